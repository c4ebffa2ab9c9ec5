"""What a person does with a source's outbox: list its changes, and put failed ones back to pending.

A change fails for good when the plugin says so (the REDCap token has no import rights, a field is missing)
or after ``give_up_after_hours`` of transient failures. Once the cause is fixed, :func:`retry_failed` hands
them to the worker again, keeping the outbox's rule that an entry's older state is never written after a
newer one: a failed change goes back to pending only when it is the newest change recorded for its entry;
an older one is marked superseded instead (the newer change carries the entry's whole current state, and is
retried, delivered or pending itself). A retried change starts afresh: no attempts counted, due at once,
``give_up_after_hours`` counted from the retry. Used by ``pylantir write-back`` and the HTTP API; what is
shown names entries by their identity (Study Instance UID, accession number or key hash) and the source's
location, never patient names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session, aliased

from pylantir import audit
from pylantir.store import Database, WriteBackChange
from pylantir.sync.clock import as_utc
from pylantir.writeback.outbox import FAILED, PENDING, RETRIED_AT, SUPERSEDED


class RetryError(ValueError):
    """Changes named for a retry that are not failed changes of the source (the message names each)."""


@dataclass
class RetryReport:
    """What a retry did: the changes back to pending, and the older ones superseded (``{old: newer}``)."""

    retried: list[int] = field(default_factory=list)
    superseded: dict[int, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"retried": self.retried,
                "superseded": [{"change": old, "newer": newer} for old, newer in sorted(self.superseded.items())]}


def _iso(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat(timespec="seconds") if moment is not None else None


def change_json(row: WriteBackChange) -> dict[str, Any]:
    """One change as ``write-back list`` and the API show it: the entry's identity, its accession number and
    the performed step's ID when the MPPS gave them, no patient data."""
    change = row.change
    attributes = change.get("attributes") or {}
    return {
        "change": row.id, "source": row.source_name, "entry": row.identity, "location": change.get("location"),
        "accession_number": attributes.get("AccessionNumber"),
        "performed_procedure_step_id": attributes.get("PerformedProcedureStepID"),
        "status": change.get("status"), "state": row.state, "attempts": row.attempts,
        "recorded_at": _iso(row.recorded_at), "retried_at": change.get(RETRIED_AT),
        "next_attempt_at": _iso(row.next_attempt_at) if row.state == PENDING else None,
        "finished_at": _iso(row.finished_at), "last_error": row.last_error,
    }


def list_changes(database: Database, source_name: str, states: Sequence[str], limit: int) -> list[dict[str, Any]]:
    """The source's changes in ``states`` (all when empty), newest first, ``limit`` at most."""
    query = select(WriteBackChange).where(WriteBackChange.source_name == source_name)
    if states:
        query = query.where(WriteBackChange.state.in_(states))
    with database.session() as session:
        return [change_json(row) for row in session.scalars(query.order_by(WriteBackChange.id.desc()).limit(limit))]


def _named_problems(session: Session, source_name: str, change_ids: Sequence[int]) -> list[str]:
    rows = {row.id: row for row in session.scalars(select(WriteBackChange).where(WriteBackChange.id.in_(change_ids)))}
    problems = []
    for change_id in dict.fromkeys(change_ids):
        row = rows.get(change_id)
        if row is None:
            problems.append(f"there is no change {change_id}")
        elif row.source_name != source_name:
            problems.append(f"change {change_id} is of source '{row.source_name}', not '{source_name}'")
        elif row.state != FAILED:
            problems.append(f"change {change_id} is {row.state}, not failed")
    return problems


def retry_failed(session: Session, source_name: str, change_ids: Sequence[int] | None, now: datetime) -> RetryReport:
    """Put the source's failed changes (all, or ``change_ids``) back to pending, in ``session``.

    Raises :class:`RetryError` (changing nothing) when a named change is not a failed change of the source.
    """
    if change_ids is not None:
        problems = _named_problems(session, source_name, change_ids)
        if problems:
            raise RetryError("; ".join(problems))
    rows = WriteBackChange
    newer = aliased(WriteBackChange)
    chosen: list[ColumnElement[bool]] = [rows.source_name == source_name, rows.state == FAILED]
    if change_ids is not None:
        chosen.append(rows.id.in_(change_ids))
    newest_of_entry = select(newer.id).where(newer.source_name == rows.source_name, newer.identity == rows.identity,
                                             newer.id > rows.id)
    report = RetryReport()
    # a write first (SQLite takes its write lock before this transaction reads the changes to retry)
    superseded = session.execute(
        update(rows).where(*chosen, newest_of_entry.exists()).values(state=SUPERSEDED, finished_at=now)
        .returning(rows.id, rows.identity)
    ).all()
    for change_id, identity in superseded:
        report.superseded[change_id] = int(session.scalar(
            select(newer.id).where(newer.source_name == source_name, newer.identity == identity)
            .order_by(newer.id.desc()).limit(1)) or 0)
    for row in session.scalars(select(rows).where(*chosen, ~newest_of_entry.exists()).order_by(rows.id)):
        row.state, row.attempts, row.next_attempt_at, row.finished_at = PENDING, 0, now, None
        row.change = {**row.change, RETRIED_AT: as_utc(now).isoformat()}
        report.retried.append(row.id)
    return report


def audit_retry(session: Session, source_name: str, report: RetryReport, actor: str,
                remote_address: str | None = None) -> None:
    """Record a retry that changed anything in the audit, in ``session`` (``write-back retry`` and the API)."""
    if report.retried or report.superseded:
        audit.record(session, actor=actor, action="write_back.retry", target=f"source:{source_name}",
                     changes={"retried": [None, report.retried], "superseded": [None, sorted(report.superseded)]},
                     remote_address=remote_address)
