"""Engine and session setup: SQLite pragmas for one writer plus many readers (and the functions of
:mod:`pylantir.store.dialect`); PostgreSQL sessions that end when their instance is cut off the network
(:mod:`pylantir.store.postgres_tcp`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from pylantir.config.models import sqlite_path
from pylantir.store.dialect import SqlOperations, operations_for, prepare_sqlite_connection
from pylantir.store.postgres_tcp import client_connect_args, end_silent_sessions
from pylantir.store.schema import check_schema, current_revision, upgrade_schema

SQLITE_BUSY_TIMEOUT_MS = 30_000
T = TypeVar("T")


def _set_up_sqlite(dbapi_connection: Any, _record: Any) -> None:
    """Pragmas for one writer plus many readers, and the functions the matching SQL calls."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    prepare_sqlite_connection(dbapi_connection)


def sqlite_file(url: str | URL) -> Path | None:
    """The file of a SQLite URL (``None`` for other databases and in-memory SQLite)."""
    database = sqlite_path(url if isinstance(url, str) else url.render_as_string(hide_password=False))
    return None if database is None else Path(database)


def failure_detail(exc: BaseException) -> str:
    """What a database failure was, on one line: the driver's words when there are some, without the statement
    SQLAlchemy appends (its parameters are hidden anyway: no patient data)."""
    words = " ".join(str(getattr(exc, "orig", None) or exc).split())
    return words.split(" [SQL: ")[0]


class DatabaseMissingError(Exception):
    """A command that may not create the database found no SQLite file at the configured path."""

    def __init__(self, path: Path):
        super().__init__(
            f"the file {path} does not exist; 'pylantir db upgrade' (or 'pylantir sync', 'pylantir run') creates it"
        )
        self.path = path


class Database:
    """One database: its engine and a session factory.

    Use :meth:`open` to connect and bring the schema up to date; then :meth:`session` for a unit of
    work (committed on success, rolled back on error).
    """

    def __init__(self, url: str, *, echo: bool = False):
        self.url = make_url(url)
        options: dict[str, Any] = {"echo": echo, "hide_parameters": True}  # no patient data in errors and logs
        if self.url.get_backend_name() == "sqlite":
            options["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        else:
            options["pool_pre_ping"] = True
        if self.url.get_backend_name() == "postgresql":
            options["connect_args"] = client_connect_args(self.url)
        self.engine: Engine = create_engine(self.url, **options)
        if self.url.get_backend_name() == "sqlite":
            event.listen(self.engine, "connect", _set_up_sqlite)
        elif self.url.get_backend_name() == "postgresql":
            end_silent_sessions(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        #: The engine's SQL for matching (wild cards, case folding, planner hints).
        self.sql: SqlOperations = operations_for(self.engine)
        self._writer: ThreadPoolExecutor | None = None
        self._writer_guard = threading.Lock()

    @classmethod
    def open(cls, url: str, *, echo: bool = False) -> Database:
        """Connect to ``url`` and create the schema (a new database) or upgrade it (Alembic; rows kept)."""
        database = cls(url, echo=echo)
        try:
            database.upgrade()
        except BaseException:
            database.close()
            raise
        return database

    def require_current_schema(self) -> None:
        """Raise unless the database exists and its schema is this version's newest; creates nothing.

        A missing SQLite file raises :class:`DatabaseMissingError`, another schema
        :class:`~pylantir.store.schema.SchemaError` (:class:`~pylantir.store.schema.SchemaBehindError`
        when it is older or absent).
        """
        if (path := sqlite_file(self.url)) is not None and not path.exists():
            raise DatabaseMissingError(path.absolute())
        check_schema(self.engine)

    def upgrade(self) -> None:
        """Create the schema in a new database, or bring an older one to the newest revision."""
        if (path := sqlite_file(self.url)) is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        upgrade_schema(self.engine)

    def revision(self) -> str | None:
        """The database's schema revision (``None`` before Pylantir set it up)."""
        return current_revision(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: commit when the block ends normally, roll back when it raises."""
        with self._sessions.begin() as session:
            yield session

    def submit_write(self, write: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``write(*args)`` in this database's one writing thread (started on first use).

        Write transactions of concurrent syncs take turns instead of failing on a lock: SQLite allows one
        writer anyway, and on PostgreSQL two sources that provide the same new entry do not insert it at the
        same time. One thread also keeps the memory of the writes (SQLite's page cache, the batches) in one
        allocator arena, reused by every sync, instead of one arena per sync thread.
        """
        with self._writer_guard:
            if self._writer is None:
                self._writer = ThreadPoolExecutor(1, thread_name_prefix="pylantir-write")
            return self._writer.submit(write, *args)

    def safe_url(self) -> str:
        """The URL with any password hidden, for logs and ``pylantir db info``."""
        return self.url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Stop the writing thread (after the write it runs, if any) and dispose of the connection pool."""
        with self._writer_guard:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.shutdown(wait=True, cancel_futures=True)
        self.engine.dispose()
