"""Writing one source's prepared rows inside the sync's single transaction.

Per batch, one indexed query fetches the identity, content hash, owner and MPPS flag of the rows
already stored; then new rows are inserted and changed rows updated with one ``executemany`` each.
Unchanged rows are not written at all.

Cross-source dedup: an entry stored by another source is taken over only when this source ranks
higher. Ranks come from :func:`source_ranks`: sources with an explicit ``priority`` first (a lower
number wins), then the others in config order. A source no longer configured ranks last.
MPPS-owned status (``status_from_mpps``) is never overwritten.

Removal (after a complete fetch only): entries of this source that the fetch no longer contains are
deleted while still ``SCHEDULED`` and not taken over by MPPS, unless the fetch looks suspicious (no
valid row at all, or more than ``removal_guard_fraction`` of the source's entries would go): then
nothing is removed and a warning is logged.
"""

from __future__ import annotations

import logging
import math
import operator
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from pylantir.config import PylantirConfig
from pylantir.store.models import WorklistItem
from pylantir.sync.rows import COLUMNS, DEFAULT_STATUS, PreparedRow

log = logging.getLogger(__name__)

TABLE = WorklistItem.__table__
STATUS = "performed_procedure_step_status"
CONFLICTS_LOGGED = 10
DELETE_CHUNK = 500
#: SQLite page cache of a sync's write transaction (KiB; the default is 2 MiB): the B-trees of a large
#: first sync stay in memory instead of spilling to the WAL and being read back (~15% of the insert time).
WRITE_CACHE_KIB = 8192


def source_ranks(config: PylantirConfig) -> dict[str, int]:
    """Rank of every configured source for dedup (0 wins over 1)."""
    order = sorted(
        enumerate(config.data_sources),
        key=lambda item: (item[1].priority if item[1].priority is not None else math.inf, item[0]),
    )
    return {source.name: rank for rank, (_, source) in enumerate(order)}


class _BulkInsert:
    """Inserts prepared rows with one ``executemany``, with the same ``constants`` in every row.

    On SQLite the rows go to the driver's ``executemany`` as tuples, with SQLAlchemy's own bind processors
    applied only to the columns that need one; this skips SQLAlchemy's per-row parameter building, the
    largest cost of a big first sync. Other databases use SQLAlchemy's batched insert as it is.
    """

    def __init__(self, session: Session, constants: dict[str, Any]):
        self._session = session
        self._constants = constants
        self._columns = [*COLUMNS, "identity", "content_hash", "source_key"]
        dialect = session.connection().dialect
        self._raw = dialect.name == "sqlite"
        if not self._raw:
            return
        names = [*self._columns, *constants]
        compiled = insert(TABLE).compile(dialect=dialect, column_keys=names)
        self._sql = str(compiled)
        processors = [TABLE.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
        self._fixed = tuple(
            process(value) if process else value
            for value, process in zip(constants.values(), processors[len(self._columns) :], strict=True)
        )
        self._pick = operator.itemgetter(*(names.index(name) for name in compiled.positiontup))
        # (position, processor, what it makes of None): JSON turns None into 'null' in every row
        self._processed = [
            (position, process, process(None))
            for position, name in enumerate(compiled.positiontup)
            if name not in constants and (process := processors[names.index(name)]) is not None
        ]

    def execute(self, rows: Sequence[PreparedRow]) -> None:
        """Insert ``rows``."""
        if not self._raw:
            self._session.execute(insert(TABLE), [self._params(row) | self._constants for row in rows])
            return
        batch = []
        for row in rows:
            values = list(self._pick((*row.values, row.identity, row.content_hash, row.location[:128], *self._fixed)))
            for position, process, null in self._processed:
                value = values[position]
                values[position] = null if value is None else process(value)
            batch.append(tuple(values))
        self._session.connection().exec_driver_sql(self._sql, batch)

    def _params(self, row: PreparedRow) -> dict[str, Any]:
        values = (*row.values, row.identity, row.content_hash, row.location[:128])
        return dict(zip(self._columns, values, strict=True))


@contextmanager
def write_cache(session: Session) -> Iterator[None]:
    """On SQLite, a larger page cache while the block writes; then the connection's own size again.

    Only the writing connection (syncs write one at a time) holds the larger cache, and only meanwhile.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    previous = int(connection.exec_driver_sql("PRAGMA cache_size").scalar_one())
    connection.exec_driver_sql(f"PRAGMA cache_size=-{WRITE_CACHE_KIB}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size={previous}")


def stored_hashes(session: Session, source_name: str) -> dict[str, str]:
    """Content hash -> identity of every row the source owns (one query on the indexed owner)."""
    rows = session.execute(
        select(TABLE.c.content_hash, TABLE.c.identity).where(TABLE.c.source_name == source_name)
    )
    return {digest: identity for digest, identity in rows}


@dataclass
class WriteCounts:
    """What a sync wrote."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    conflicts: int = 0  # entries another source also provides (the higher-ranked one is kept)


class Writer:
    """Writes one source's rows in an open session; the caller commits or rolls back."""

    def __init__(self, session: Session, source_name: str, ranks: Mapping[str, int], now: datetime):
        self.session = session
        self.source_name = source_name
        self.ranks = ranks
        self.now = now
        self.counts = WriteCounts()
        self._update_all = update(TABLE).where(TABLE.c.id == bindparam("_id"))
        self._insert = _BulkInsert(session, {"source_name": source_name, "created_at": now, "updated_at": now,
                                             "last_seen_at": now, "status_from_mpps": False})

    def write_batch(self, rows: Sequence[PreparedRow]) -> None:
        """Insert new rows, update changed ones, skip unchanged ones and ones a higher source owns."""
        stored = {
            row.identity: row
            for row in self.session.execute(
                select(TABLE.c.identity, TABLE.c.id, TABLE.c.content_hash, TABLE.c.source_name,
                       TABLE.c.status_from_mpps).where(TABLE.c.identity.in_([r.identity for r in rows]))
            )
        }
        inserts: list[PreparedRow] = []
        updates: list[dict[str, Any]] = []
        mpps_updates: list[dict[str, Any]] = []
        for row in rows:
            old = stored.get(row.identity)
            if old is None:
                inserts.append(row)
            elif old.source_name != self.source_name and not self._takes_over(old.source_name, row.identity):
                continue
            elif old.source_name == self.source_name and old.content_hash == row.content_hash:
                self.counts.unchanged += 1
            elif old.status_from_mpps:
                params = self._params(row) | {"_id": old.id}
                del params[STATUS]
                mpps_updates.append(params)
            else:
                updates.append(self._params(row) | {"_id": old.id})
        if inserts:
            self._insert.execute(inserts)
        for batch in (updates, mpps_updates):
            if batch:
                self.session.execute(self._update_all, batch)
        self.counts.inserted += len(inserts)
        self.counts.updated += len(updates) + len(mpps_updates)

    def _params(self, row: PreparedRow) -> dict[str, Any]:
        params = dict(zip(COLUMNS, row.values, strict=True))
        params.update(source_name=self.source_name, source_key=row.location[:128],
                      content_hash=row.content_hash, updated_at=self.now, last_seen_at=self.now)
        return params

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

    def remove_missing(self, seen: set[str], guard_fraction: float) -> str | None:
        """Delete this source's SCHEDULED entries not in ``seen``; a warning instead when suspicious."""
        owned = self.session.execute(
            select(func.count()).select_from(TABLE).where(TABLE.c.source_name == self.source_name)
        ).scalar_one()
        missing = [
            row.id
            for row in self.session.execute(
                select(TABLE.c.id, TABLE.c.identity).where(
                    TABLE.c.source_name == self.source_name,
                    TABLE.c[STATUS] == DEFAULT_STATUS,
                    TABLE.c.status_from_mpps.is_(False),
                )
            )
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
            self.session.execute(delete(TABLE).where(TABLE.c.id.in_(missing[start : start + DELETE_CHUNK])))
        self.counts.removed = len(missing)
        return None
