"""Writing one source's prepared rows inside the sync's single transaction.

Rows come in insert form (flat tuples of :data:`~pylantir.sync.rows.INSERT_COLUMNS`, see
:class:`pylantir.sync.spool.Spool`). Per batch, one indexed query fetches the identity, content hash,
owner and MPPS flag of the rows already stored; then new rows are inserted and changed rows updated
with one ``executemany`` each. Unchanged rows are not written at all. On SQLite, when the table is
empty as the write transaction starts (a first sync), the query is skipped: the transaction holds the
database's write lock, and the rows of one sync have distinct identities, so every row is new.

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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from pylantir.config import PylantirConfig
from pylantir.store.catalogue import STATUS
from pylantir.store.models import WorklistItem
from pylantir.sync.rows import DEFAULT_STATUS, INSERT_COLUMNS

log = logging.getLogger(__name__)

TABLE = cast(Table, WorklistItem.__table__)  # a declarative model's table; typed as FromClause
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


def column_values(row: tuple[Any, ...]) -> dict[str, Any]:
    """A row in insert form as column name -> value."""
    return dict(zip(INSERT_COLUMNS, row, strict=True))


class _BulkInsert:
    """Inserts rows in insert form with one ``executemany``, with the same ``constants`` in every row.

    On SQLite the rows go to the driver's ``executemany`` as tuples, built column by column with
    SQLAlchemy's own bind processors applied to the columns that need one; this skips SQLAlchemy's per-row
    parameter building, the largest cost of a big first sync. A column that is NULL in every row of the
    batch (and has no default) is left out of the INSERT: the ``sqlite3`` module binds each ``None`` slowly
    (~0.25 us), and most worklist columns are empty. Other databases use SQLAlchemy's batched insert as it is.
    """

    def __init__(self, session: Session, constants: dict[str, Any]):
        self._session = session
        self._constants = constants
        self._dialect = session.connection().dialect
        self._raw = self._dialect.name == "sqlite"
        self._statements: dict[tuple[str, ...], tuple[str, tuple[str, ...]]] = {}
        if not self._raw:
            return
        processors = {name: self._processor(name) for name in [*INSERT_COLUMNS, *constants]}
        # processor and what it makes of None (JSON turns None into 'null': computed once)
        self._processors = {name: (process, process(None)) for name, process in processors.items() if process}
        self._fixed = {
            name: process(value) if (process := processors[name]) else value for name, value in constants.items()
        }
        self._omissible = frozenset(
            name for name in INSERT_COLUMNS if TABLE.c[name].default is None and TABLE.c[name].server_default is None
        )

    def _processor(self, name: str) -> Callable[[Any], Any] | None:
        return TABLE.c[name].type.dialect_impl(self._dialect).bind_processor(self._dialect)

    def execute(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert ``rows``."""
        if not self._raw:
            self._session.execute(insert(TABLE), [column_values(row) | self._constants for row in rows])
            return
        columns: dict[str, Iterable[Any]] = {}
        for name, given in zip(INSERT_COLUMNS, zip(*rows, strict=True), strict=True):
            column: Sequence[Any] = given
            if name in self._processors:
                process, null = self._processors[name]
                column = [null if value is None else process(value) for value in given]
            if name not in self._omissible or column.count(None) != len(column):
                columns[name] = column
        columns.update((name, repeat(value, len(rows))) for name, value in self._fixed.items())
        sql, order = self._statement(tuple(columns))
        self._session.connection().exec_driver_sql(sql, list(zip(*map(columns.get, order), strict=True)))

    def _statement(self, names: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
        """The INSERT of ``names`` and the order of its parameters (compiled once per set of columns)."""
        if names not in self._statements:
            compiled = insert(TABLE).compile(dialect=self._dialect, column_keys=list(names))
            self._statements[names] = (str(compiled), tuple(compiled.positiontup or ()))
        return self._statements[names]


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

    def __init__(
        self, session: Session, source_name: str, ranks: Mapping[str, int], now: datetime, run_id: int | None = None
    ):
        self.session = session
        self.run_id = run_id
        self.source_name = source_name
        self.ranks = ranks
        self.now = now
        self.counts = WriteCounts()
        self._update_all = update(TABLE).where(TABLE.c.id == bindparam("_id"))
        # one statement for every batch (a literal IN list would be built and coerced value by value)
        self._lookup = select(
            TABLE.c.identity, TABLE.c.id, TABLE.c.content_hash, TABLE.c.source_name, TABLE.c.status_from_mpps
        ).where(TABLE.c.identity.in_(bindparam("identities", expanding=True)))
        self._all_new = self._insert_only(session)
        self._insert = _BulkInsert(session, {"source_name": source_name, "created_at": now, "updated_at": now,
                                             "status_from_mpps": False,
                                             "created_run_id": run_id, "updated_run_id": run_id})

    @staticmethod
    def _insert_only(session: Session) -> bool:
        """Whether every row written will be new: SQLite with an empty table (its write lock is held)."""
        if session.connection().dialect.name != "sqlite":
            return False
        return session.execute(select(TABLE.c.id).limit(1)).first() is None

    def write_batch(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert new rows, update changed ones, skip unchanged ones and ones a higher source owns.

        ``rows`` are in insert form (:data:`~pylantir.sync.rows.INSERT_COLUMNS`): identity first, then the
        content hash.
        """
        if self._all_new:
            self._insert.execute(rows)
            self.counts.inserted += len(rows)
            return
        stored = {
            row.identity: row
            for row in self.session.execute(self._lookup, {"identities": [row[0] for row in rows]})
        }
        inserts: list[tuple[Any, ...]] = []
        updates: list[dict[str, Any]] = []
        mpps_updates: list[dict[str, Any]] = []
        for row in rows:
            identity, content_hash = row[0], row[1]
            old = stored.get(identity)
            if old is None:
                inserts.append(row)
            elif old.source_name != self.source_name and not self._takes_over(old.source_name, identity):
                continue
            elif old.source_name == self.source_name and old.content_hash == content_hash:
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

    def _params(self, row: tuple[Any, ...]) -> dict[str, Any]:
        params = column_values(row)
        del params["identity"]
        params.update(
            source_name=self.source_name, updated_at=self.now, updated_run_id=self.run_id
        )
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
