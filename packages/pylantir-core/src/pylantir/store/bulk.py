"""Bulk writes of worklist rows: the dialect-specific part of a sync's write transaction.

The sync (:mod:`pylantir.sync.writer`) decides what to write and under which rules; this module turns that
into the SQL each database runs best:

- :class:`BulkUpsert`: on PostgreSQL ``INSERT ... ON CONFLICT (identity) DO UPDATE ... WHERE ...`` for many
  rows with one ``executemany`` (SQLAlchemy's batched insert). On SQLite a plain ``INSERT``: a sync's write
  transaction holds SQLite's one write lock from its first statement, before it looks up the stored rows,
  so no other writer can insert meanwhile; and an UPSERT costs SQLite a statement journal per row (1.6
  million temp-file writes for a 100,000-row first sync). The rows go to the SQLite driver as tuples
  (SQLAlchemy's per-row parameter building is the largest cost of a large first sync) and a column that is
  NULL in every row of a batch is left out (the ``sqlite3`` module binds each ``None`` slowly).
- :class:`KeyLookup`: the stored rows of many keys in one query; on SQLite the statement for a number of
  keys is compiled once and the keys go to the driver as they are (SQLAlchemy renders an expanding ``IN``
  list key by key on every execution: most of the lookup's time in a large first sync);
- :func:`insert_if_missing`: one row, unless another writer has it (``ON CONFLICT DO NOTHING``);
- :func:`write_cache`: a larger SQLite page cache while a sync's write transaction runs;
- :func:`indexes_built_after`: on SQLite, a table filled from empty gets its secondary indexes at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import repeat
from typing import Any

from sqlalchemy import ColumnElement, Table, bindparam, exists, insert, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnClause

#: SQLite page cache of a sync's write transaction (KiB; the default is 2 MiB): the B-trees of a large
#: first sync stay in memory instead of spilling to the WAL and being read back (~15% of the insert time).
WRITE_CACHE_KIB = 8192

#: Given the insert's ``excluded`` row (the values the insert proposed), the columns to set on conflict
#: and the condition under which the stored row is updated at all (``None``: always).
ConflictRule = Callable[[Any], tuple[Mapping[str, ColumnElement[Any] | ColumnClause[Any]], ColumnElement[bool] | None]]


def _upsert_builder(dialect_name: str) -> Any:
    if dialect_name == "postgresql":
        from sqlalchemy.dialects import postgresql  # here: a SQLite site never loads it (~30 ms of CPU)

        return postgresql.insert
    if dialect_name == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"bulk upsert of worklist rows on {dialect_name} is not supported")


class BulkUpsert:
    """Inserts rows of ``columns`` (tuples in that order) plus ``constants``; on PostgreSQL a row whose ``key``
    already exists (inserted meanwhile by another writer) is updated by ``on_conflict`` instead of failing.

    :param raw: on SQLite, hand the rows to the driver as tuples (the default); ``False`` uses SQLAlchemy's
        own parameter handling, as on PostgreSQL (a test runs both on the same rows).
    """

    def __init__(
        self,
        session: Session,
        table: Table,
        columns: Sequence[str],
        constants: Mapping[str, Any],
        key: str,
        on_conflict: ConflictRule,
        *,
        raw: bool = True,
    ):
        self._session = session
        self._table = table
        self._columns = tuple(columns)
        self._constants = dict(constants)
        self._dialect = session.connection().dialect
        if self._dialect.name == "sqlite":  # one writer at a time: nobody inserts meanwhile (module docstring)
            self._statement: Any = insert(table)
        else:
            statement = _upsert_builder(self._dialect.name)(table)
            set_, where = on_conflict(statement.excluded)
            self._statement = statement.on_conflict_do_update(index_elements=[key], set_=dict(set_), where=where)
        self._raw = raw and self._dialect.name == "sqlite"
        self._compiled: dict[tuple[str, ...], tuple[str, tuple[str, ...], dict[str, Any]]] = {}
        if self._raw:
            self._prepare_raw()

    def _prepare_raw(self) -> None:
        processors = {name: self._processor(name) for name in [*self._columns, *self._constants]}
        # processor and what it makes of None (JSON turns None into 'null': computed once)
        self._processors = {name: (process, process(None)) for name, process in processors.items() if process}
        self._fixed = {
            name: process(value) if (process := processors[name]) else value for name, value in self._constants.items()
        }
        columns = self._table.c
        self._omissible = frozenset(
            name for name in self._columns if columns[name].default is None and columns[name].server_default is None
        )

    def _processor(self, name: str) -> Callable[[Any], Any] | None:
        column_type = self._table.c[name].type
        return column_type.dialect_impl(self._dialect).bind_processor(self._dialect)

    def execute(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Write ``rows``."""
        if not rows:
            return
        if not self._raw:
            self._session.execute(
                self._statement, [dict(zip(self._columns, row, strict=True)) | self._constants for row in rows]
            )
            return
        values: dict[str, Iterable[Any]] = {}
        count = len(rows)
        for name, column in zip(self._columns, zip(*rows, strict=True), strict=True):
            if name in self._processors:
                process, null = self._processors[name]
                column = ((null,) * count if column.count(None) == count
                          else tuple(null if value is None else process(value) for value in column))
            if name not in self._omissible or column.count(None) != count:
                values[name] = column
        values.update((name, repeat(value, len(rows))) for name, value in self._fixed.items())
        sql, order, bound = self._compile(tuple(values))
        values.update((name, repeat(value, len(rows))) for name, value in bound.items())
        self._session.connection().exec_driver_sql(sql, list(zip(*map(values.__getitem__, order), strict=True)))

    def _compile(self, names: tuple[str, ...]) -> tuple[str, tuple[str, ...], dict[str, Any]]:
        """The statement for ``names``, the order of its parameters and the values bound in the conflict
        rule (compiled once per set of columns)."""
        if names not in self._compiled:
            compiled = self._statement.compile(dialect=self._dialect, column_keys=list(names))
            bound = {name: value for name, value in compiled.params.items() if name not in names}
            self._compiled[names] = (str(compiled), tuple(compiled.positiontup or ()), bound)
        return self._compiled[names]


class KeyLookup:
    """Reads ``columns`` of the rows of ``table`` whose ``key`` is one of a list, as tuples in that order."""

    def __init__(self, session: Session, table: Table, key: str, columns: Sequence[str]):
        self._session = session
        self._key = table.c[key]
        self._select = select(*(table.c[name] for name in columns))
        self._dialect = session.connection().dialect
        self._expanding = self._select.where(self._key.in_(bindparam("keys", expanding=True)))
        self._compiled: dict[int, str] = {}  # number of keys -> the SQLite statement

    def rows(self, keys: Sequence[Any]) -> Iterable[Sequence[Any]]:
        """The rows of ``keys`` (as many as SQLite binds in one statement)."""
        if self._dialect.name != "sqlite":
            return self._session.execute(self._expanding, {"keys": list(keys)})
        if len(keys) not in self._compiled:
            where = self._key.in_([bindparam(f"key_{n}") for n in range(len(keys))])
            self._compiled[len(keys)] = str(self._select.where(where).compile(dialect=self._dialect))
        return self._session.connection().exec_driver_sql(self._compiled[len(keys)], tuple(keys))


def insert_if_missing(session: Session, table: Table, values: Mapping[str, Any], key: str) -> None:
    """Insert one row unless a row with its ``key`` exists (also one another instance inserts meanwhile)."""
    statement = _upsert_builder(session.connection().dialect.name)(table).values(dict(values))
    session.execute(statement.on_conflict_do_nothing(index_elements=[key]))


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


@contextmanager
def indexes_built_after(session: Session, table: Table) -> Iterator[None]:
    """On SQLite, when ``table`` holds no row, its secondary indexes are dropped while the block fills it and
    created again (from the models) when the block ends, in the same transaction.

    SQLite then sorts each index's keys once instead of inserting every row into every B-tree as it comes:
    about a fifth of a large first sync's write. Its unique constraints stay (the writer looks rows up by
    them). DDL is transactional on SQLite: readers keep seeing the indexes until the commit, and a
    transaction that fails (the block raises, the caller rolls back) leaves them as they were. Elsewhere,
    or with rows stored, nothing changes (PostgreSQL's ``DROP INDEX`` would lock out every reader).
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    if not connection.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
        # the sqlite3 module opens a transaction before DML only: a DROP first would be committed at once
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    empty = not session.scalar(select(exists().select_from(table)))
    indexes = sorted(table.indexes, key=lambda index: str(index.name)) if empty else []
    for index in indexes:
        index.drop(connection)
    yield
    for index in indexes:
        index.create(connection)
