"""Writing one source's prepared rows inside the sync's single transaction.

Rows come in insert form (flat tuples of :data:`~pylantir.sync.rows.INSERT_COLUMNS`, see
:class:`pylantir.sync.spool.Spool`). Per batch, one indexed query fetches the identity, content hash,
owner and MPPS flag of the rows already stored; then new rows are inserted and changed rows updated
with one ``executemany`` each. Unchanged rows are not written at all.

Every write states its rules in the SQL, so that the database applies them to the row as it is when the
write happens, not as the lookup saw it (another instance, an MPPS N-SET or another source may have
written it meanwhile; on PostgreSQL under READ COMMITTED an UPDATE waits for a concurrent writer and then
re-evaluates its WHERE clause and its SET expressions on the row that writer committed):

- MPPS owns the status: ``SET status = CASE WHEN status_from_mpps THEN status ELSE :new END``;
- priority: a row is overwritten only when this source owns it or outranks its owner (``WHERE``);
- an insert of an entry another writer inserted meanwhile becomes an update under the same two rules
  (``INSERT ... ON CONFLICT (identity) DO UPDATE ... WHERE``), so no sync fails on the identity key;
- removal deletes only rows that are still this source's, ``SCHEDULED`` and not taken over by MPPS.

Cross-source dedup: an entry stored by another source is taken over only when this source ranks
higher. Ranks come from :func:`source_ranks`: sources with an explicit ``priority`` first (a lower
number wins), then the others in config order. A source no longer configured ranks last.

Removal (after a complete fetch only): entries of this source that the fetch no longer contains are
deleted while still ``SCHEDULED`` and not taken over by MPPS, unless the fetch looks suspicious (no
valid row at all, or more than ``removal_guard_fraction`` of the source's entries would go): then
nothing is removed and a warning is logged.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

from pylantir.config import PylantirConfig
from pylantir.store.bulk import BulkUpsert, KeyLookup
from pylantir.store.catalogue import STATUS
from pylantir.store.models import WorklistItem
from pylantir.store.removed import any_removed, still_removed
from pylantir.sync.previous_entries import PreviousEntries
from pylantir.sync.result import SyncResult
from pylantir.sync.rows import DEFAULT_STATUS, INSERT_COLUMNS

log = logging.getLogger(__name__)

TABLE = cast(Table, WorklistItem.__table__)
CONFLICTS_LOGGED = 10
DELETE_CHUNK = 500
_START = INSERT_COLUMNS.index("scheduled_start")
#: Columns a sync sets when it changes a stored row (the identity and what the insert alone sets stay).
UPDATED_COLUMNS = (*INSERT_COLUMNS[1:], "source_name", "updated_at", "updated_run_id")


def source_ranks(config: PylantirConfig) -> dict[str, int]:
    """Rank of every configured source for dedup (0 wins over 1)."""
    order = sorted(
        enumerate(config.data_sources),
        key=lambda item: (item[1].priority if item[1].priority is not None else math.inf, item[0]),
    )
    return {source.name: rank for rank, (_, source) in enumerate(order)}


def column_values(row: tuple[Any, ...]) -> dict[str, Any]:
    """A row in insert form as column name -> value."""
    return dict(zip(INSERT_COLUMNS, row, strict=True))


def stored_hashes(session: Session, source_name: str) -> dict[str, str]:
    """Content hash -> identity of every row the source owns (one query on the indexed owner)."""
    rows = session.execute(
        select(TABLE.c.content_hash, TABLE.c.identity).where(TABLE.c.source_name == source_name)
    )
    return {digest: identity for digest, identity in rows}


def _status_kept_from_mpps(new: Any) -> ColumnElement[Any]:
    """The status to store: the stored one once MPPS owns it (evaluated by the database), else ``new``."""
    return case((TABLE.c.status_from_mpps.is_(True), TABLE.c[STATUS]), else_=new)


class Writer:
    """Writes one source's rows in an open session; the caller commits or rolls back.

    :param counts: where the writes are counted (``inserted``, ``updated``, ``unchanged``, ``removed``,
        ``conflicts``, ``already_removed``).
    """

    def __init__(
        self,
        session: Session,
        source_name: str,
        ranks: Mapping[str, int],
        now: datetime,
        run_id: int | None,
        counts: SyncResult,
    ):
        self.session = session
        self.source_name = source_name
        self.ranks = ranks
        self.now = now
        self.run_id = run_id
        self.counts = counts
        may_overwrite = self._may_overwrite()
        self._update = (
            update(TABLE)
            .where(TABLE.c.id == bindparam("_id"), may_overwrite)
            .values({name: bindparam(f"new_{name}") for name in UPDATED_COLUMNS})
            .values({STATUS: _status_kept_from_mpps(bindparam(f"new_{STATUS}"))})
        )
        self._lookup = KeyLookup(session, TABLE, "identity", ("identity", "id", "content_hash", "source_name"))
        constants = {"source_name": source_name, "created_at": now, "updated_at": now, "status_from_mpps": False,
                     "created_run_id": run_id, "updated_run_id": run_id}

        def on_conflict(excluded: Any) -> tuple[dict[str, Any], ColumnElement[bool]]:
            set_ = {name: excluded[name] for name in UPDATED_COLUMNS}
            set_[STATUS] = _status_kept_from_mpps(excluded[STATUS])
            changed = or_(TABLE.c.content_hash != excluded.content_hash, TABLE.c.source_name != source_name)
            return set_, and_(may_overwrite, changed)

        self._removed_before = any_removed(session)
        self._previous = PreviousEntries(session, source_name)
        self._insert = BulkUpsert(session, TABLE, INSERT_COLUMNS, constants, "identity", on_conflict)

    def _may_overwrite(self) -> ColumnElement[bool]:
        """Whether this source may overwrite a stored row: it owns it, or no source that outranks it does."""
        mine = self.ranks.get(self.source_name, math.inf)
        outranking = sorted(name for name, rank in self.ranks.items() if rank < mine and name != self.source_name)
        if not outranking:
            return true()
        others = (TABLE.c.source_name != bindparam(f"outranking_{n}", name) for n, name in enumerate(outranking))
        return or_(TABLE.c.source_name == bindparam("writer_source", self.source_name), and_(*others))

    def write_batch(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert new rows, update changed ones, skip unchanged ones and ones a higher source owns.

        ``rows`` are in insert form (:data:`~pylantir.sync.rows.INSERT_COLUMNS`): identity first, then the
        content hash.
        """
        stored = {identity: found for identity, *found in self._lookup.rows([row[0] for row in rows])}
        inserts: list[tuple[Any, ...]] = []
        updates: list[dict[str, Any]] = []
        for row in rows:
            identity, content_hash = row[0], row[1]
            old = stored.get(identity)
            if old is None:
                inserts.append(row)
                continue
            row_id, stored_hash, owner = old
            if owner != self.source_name and not self._takes_over(owner, identity):
                continue
            if owner == self.source_name and stored_hash == content_hash:
                self.counts.unchanged += 1
            else:
                updates.append(self._update_params(row, row_id))
        if self._previous:
            inserts = self._claim_previous(inserts, updates)
        added = self._not_removed_before(inserts)
        self._insert.execute(added)
        if updates:
            self.session.execute(self._update, updates)
        self.counts.inserted += len(added)
        self.counts.updated += len(updates)

    def _claim_previous(self, rows: Sequence[tuple[Any, ...]], updates: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        """``rows`` (new ones) without those that are records of imported entries: each of those gives its
        entry its identity and becomes an update of it (:mod:`pylantir.sync.previous_entries`)."""
        kept: list[tuple[Any, ...]] = []
        claimed: list[tuple[str, int]] = []
        for row in rows:
            item_id = self._previous.claim(row)
            if item_id is None:
                kept.append(row)
            else:
                claimed.append((row[0], item_id))
                updates.append(self._update_params(row, item_id))
        self._previous.adopt(self.session, claimed)
        return kept

    def _not_removed_before(self, rows: Sequence[tuple[Any, ...]]) -> Sequence[tuple[Any, ...]]:
        """``rows`` (new ones) without those housekeeping removed, unless rescheduled later (store.removed)."""
        if not self._removed_before or not rows:
            return rows
        removed = still_removed(self.session, [(row[0], row[_START]) for row in rows])
        self.counts.already_removed += len(removed)
        return [row for row in rows if row[0] not in removed] if removed else rows

    def _update_params(self, row: tuple[Any, ...], row_id: int) -> dict[str, Any]:
        values = column_values(row)
        values.update(source_name=self.source_name, updated_at=self.now, updated_run_id=self.run_id)
        return {"_id": row_id, **{f"new_{name}": values[name] for name in UPDATED_COLUMNS}}

    def _takes_over(self, owner: str, identity: str) -> bool:
        mine, theirs = self.ranks.get(self.source_name, math.inf), self.ranks.get(owner, math.inf)
        wins = mine < theirs
        self.counts.conflicts += 1
        if self.counts.conflicts <= CONFLICTS_LOGGED:
            log.info(
                "sources '%s' and '%s' both provide entry %s: keeping '%s' (higher priority)",
                self.source_name, owner, identity, self.source_name if wins else owner,
            )
        return wins

    def _removable(self) -> ColumnElement[bool]:
        """Rows a complete fetch may remove when it no longer contains them (checked again on delete)."""
        return and_(
            TABLE.c.source_name == self.source_name,
            TABLE.c[STATUS] == DEFAULT_STATUS,
            TABLE.c.status_from_mpps.is_(False),
        )

    def remove_missing(self, seen: set[str], guard_fraction: float) -> str | None:
        """Delete this source's SCHEDULED entries not in ``seen``; a warning instead when suspicious."""
        owned = self.session.execute(
            select(func.count()).select_from(TABLE).where(TABLE.c.source_name == self.source_name)
        ).scalar_one()
        missing = [
            row.id
            for row in self.session.execute(select(TABLE.c.id, TABLE.c.identity).where(self._removable()))
            if row.identity not in seen
        ]
        if not missing:
            return None
        if not seen or len(missing) > guard_fraction * owned:
            what = "an empty fetch" if not seen else f"more than {guard_fraction:.0%} of its {owned} entries"
            warning = (
                f"source '{self.source_name}': the fetch would remove {len(missing)} entries "
                f"({what}); nothing was removed"
            )
            log.warning(warning)
            return warning
        for start in range(0, len(missing), DELETE_CHUNK):
            chunk = missing[start : start + DELETE_CHUNK]
            deleted = self.session.execute(delete(TABLE).where(TABLE.c.id.in_(chunk), self._removable()))
            self.counts.removed += cast(CursorResult[Any], deleted).rowcount
        return None
