"""Manual worklist entries (walk-ins) and cancelling: the writes of ``/api/v1/worklist``.

A manual entry is a record of the built-in :data:`MANUAL_SOURCE` source whose fields are worklist fields
by name: it goes through the sync's own row pipeline (:class:`pylantir.sync.rows.RowPreparer`: mapping
normalisation, quality gate, identity, generated Study Instance UID), so it is valid exactly when the same
row from a source would be. No sync removes it (removal only touches the syncing source's own rows); a
source that later provides the same entry (same Study Instance UID or accession number) takes it over.

Each function runs in the database's writing thread (``Database.submit_write``) and records its audit event
in the same transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import status
from sqlalchemy import select
from sqlalchemy.orm import Session

from pylantir import audit
from pylantir.store import Database, WorklistItem
from pylantir.store.models import utcnow
from pylantir.sync.clock import site_today
from pylantir.sync.mapping import FieldMapping, MappingError
from pylantir.sync.rows import COLUMNS, PreparedRow, RowPreparer

if TYPE_CHECKING:
    from pylantir.http.auth import Principal
    from pylantir.http.services import Services

#: The source of manual entries; no configured source may take this name (``config.RESERVED_SOURCE_NAMES``).
MANUAL_SOURCE = "manual"
#: Statuses a step may be cancelled from (a STARTED one ends through MPPS).
CANCELLABLE = ("SCHEDULED", "ARRIVED", "READY")
CANCELLED = "DISCONTINUED"
#: HTTP 422 (Starlette renamed its constant; the number stays).
UNPROCESSABLE = 422


class WalkInError(Exception):
    """A write that cannot be done: ``status`` is the HTTP status, the message names the field or item;
    ``problems`` has each ``(field, message)`` the quality gate found (empty for other errors)."""

    def __init__(self, message: str, status_code: int = UNPROCESSABLE,
                 problems: tuple[tuple[str, str], ...] = ()):
        super().__init__(message)
        self.status = status_code
        self.problems = problems


def _prepared(services: Services, entry: Mapping[str, Any]) -> PreparedRow:
    """``entry`` through the sync's row pipeline, or :class:`WalkInError` naming every problem."""
    if not entry:
        raise WalkInError("no fields given: send worklist fields by their mapping names "
                          "('pylantir worklist fields' lists them)")
    names = list(entry)
    # keyed by worklist field (the rich form), read from positional fields: unknown names are errors, and an
    # extra.<Keyword> is not read as a dotted path
    try:
        mapping = FieldMapping.parse({name: {"from": f"field{index}"} for index, name in enumerate(names)},
                                     where="entry")
    except MappingError as exc:
        raise WalkInError("; ".join(exc.problems)) from None
    record = {f"field{index}": entry[name] for index, name in enumerate(names)}
    today = site_today(services.config.timezone, services.clock.now())
    content_hash = hashlib.sha256(orjson.dumps(dict(entry), option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()
    prepared = RowPreparer(mapping, today).prepare(record, "api", content_hash)
    if not isinstance(prepared, PreparedRow):
        raise WalkInError(prepared.reason, problems=prepared.problems)
    return prepared


def _values(prepared: PreparedRow) -> dict[str, Any]:
    return dict(zip(COLUMNS, prepared.values, strict=True))


def _check_identity_free(session: Session, identity: str, item_id: int | None = None) -> None:
    other = session.scalar(select(WorklistItem.id).where(WorklistItem.identity == identity))
    if other is not None and other != item_id:
        raise WalkInError(f"the worklist already has this entry (same Study Instance UID, accession number or "
                          f"schedule): item {other}", status.HTTP_409_CONFLICT)


def create_manual(services: Services, entry: Mapping[str, Any], who: Principal) -> int:
    """Store a manual entry; its new item ID."""
    prepared = _prepared(services, entry)
    with services.database.session() as session:
        _check_identity_free(session, prepared.identity)
        values = _values(prepared)
        item = WorklistItem(identity=prepared.identity, source_name=MANUAL_SOURCE, source_key=who.actor[:128],
                            content_hash=prepared.content_hash, **values)
        session.add(item)
        session.flush()
        audit.record(session, actor=who.actor, action="worklist.create", target=f"worklist_item:{item.id}",
                     changes={column: [None, value] for column, value in values.items() if value is not None},
                     remote_address=who.remote_address)
        return item.id


def _stored_entry(item: WorklistItem) -> dict[str, Any]:
    """A stored item's fields as an entry (what :func:`_prepared` reads): its columns that hold a value."""
    entry: dict[str, Any] = {}
    for column in COLUMNS:
        value = getattr(item, column)
        if column == "scheduled_start" or value in (None, {}):
            continue
        if isinstance(value, dict):  # extras: extra.<Keyword>
            entry.update({f"extra.{keyword}": extra for keyword, extra in value.items()})
        else:
            entry[column] = value
    return entry


def update_manual(services: Services, item_id: int, changes: Mapping[str, Any], who: Principal) -> None:
    """Apply ``changes`` (``None`` clears a field) to a manual entry, checked whole again."""
    with services.database.session() as session:
        item = session.get(WorklistItem, item_id)
        if item is None:
            raise WalkInError(f"no worklist item {item_id}", status.HTTP_404_NOT_FOUND)
        if item.source_name != MANUAL_SOURCE:
            raise WalkInError(f"item {item_id} comes from source '{item.source_name}': change it there (only "
                              "manual entries are changed here; cancel works for every item)", status.HTTP_409_CONFLICT)
        entry = {**_stored_entry(item), **changes}
        prepared = _prepared(services, {name: value for name, value in entry.items() if value is not None})
        _check_identity_free(session, prepared.identity, item_id)
        diff = {}
        for column, value in _values(prepared).items():
            old = getattr(item, column)
            if old != value:
                diff[column] = [old, value]
                setattr(item, column, value)
        if not diff:
            return
        item.identity, item.content_hash = prepared.identity, prepared.content_hash
        item.updated_at = utcnow()
        audit.record(session, actor=who.actor, action="worklist.update", target=f"worklist_item:{item_id}",
                     changes=diff, remote_address=who.remote_address)


def cancel_item(database: Database, item_id: int, who: Principal, reason: str | None) -> None:
    """Set a waiting step DISCONTINUED, kept against syncs (as an MPPS status is)."""
    with database.session() as session:
        item = session.get(WorklistItem, item_id)
        if item is None:
            raise WalkInError(f"no worklist item {item_id}", status.HTTP_404_NOT_FOUND)
        current = item.scheduled_procedure_step_status
        if current not in CANCELLABLE:
            raise WalkInError(f"item {item_id} is {current}: only a step that has not started "
                              f"({', '.join(CANCELLABLE)}) can be cancelled", status.HTTP_409_CONFLICT)
        item.scheduled_procedure_step_status = CANCELLED
        item.status_from_mpps = True
        audit.record(session, actor=who.actor, action="worklist.cancel", target=f"worklist_item:{item_id}",
                     changes={"scheduled_procedure_step_status": [current, CANCELLED],
                              **({"reason": [None, reason]} if reason else {})},
                     remote_address=who.remote_address)
