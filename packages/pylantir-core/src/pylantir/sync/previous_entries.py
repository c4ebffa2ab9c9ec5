"""Entries imported from the previous Pylantir that await their source's record (``previous_entries``).

:mod:`pylantir.previous_import` stores, per imported entry, what the record of the same entry will carry
(``match``: insert-form column -> value). The sync's writer asks :meth:`PreviousEntries.claim` about each
row it would insert; a row that matches takes over the imported entry (its identity becomes the row's)
and is written as an update of it, so the entry keeps its MPPS-owned status and is not added twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.orm import Session

from pylantir.store.models import PreviousEntry, WorklistItem
from pylantir.sync.rows import INSERT_COLUMNS

log = logging.getLogger(__name__)

_WORKLIST = cast(Table, WorklistItem.__table__)
_POSITION = {name: index for index, name in enumerate(INSERT_COLUMNS)}
#: The columns a match may name: those of a row in insert form.
MATCH_COLUMNS = frozenset(INSERT_COLUMNS) - {"identity", "content_hash"}
Key = tuple[tuple[str, str], ...]


class PreviousEntries:
    """One source's awaiting imported entries, loaded once per sync (none, almost always)."""

    def __init__(self, session: Session, source_name: str):
        self.source_name = source_name
        self._by_key: dict[Key, int] = {}
        self._shapes: set[tuple[str, ...]] = set()
        found = session.execute(select(PreviousEntry.worklist_item_id, PreviousEntry.match)
                                .where(PreviousEntry.source_name == source_name))
        for item_id, match in found:
            key = tuple(sorted((str(name), str(value)) for name, value in match.items() if name in MATCH_COLUMNS))
            if key:
                self._by_key.setdefault(key, item_id)
                self._shapes.add(tuple(name for name, _ in key))

    def __bool__(self) -> bool:
        return bool(self._by_key)

    def claim(self, row: Sequence[Any]) -> int | None:
        """The id of the imported entry ``row`` (insert form) is the record of, taken off the awaiting ones."""
        for shape in self._shapes:
            key = tuple((name, "" if row[_POSITION[name]] is None else str(row[_POSITION[name]])) for name in shape)
            item_id = self._by_key.pop(key, None)
            if item_id is not None:
                return item_id
        return None

    def adopt(self, session: Session, claimed: Sequence[tuple[str, int]]) -> None:
        """Give each claimed entry ``(identity, id)`` its record's identity; they await nothing any more."""
        if not claimed:
            return
        session.execute(
            update(_WORKLIST).where(_WORKLIST.c.id == bindparam("item_id")).values(identity=bindparam("new_identity")),
            [{"item_id": item_id, "new_identity": identity} for identity, item_id in claimed],
        )
        session.execute(delete(PreviousEntry).where(
            PreviousEntry.worklist_item_id.in_([item_id for _, item_id in claimed])))
        log.info("source '%s': %d entries imported from the previous Pylantir recognised", self.source_name,
                 len(claimed))
