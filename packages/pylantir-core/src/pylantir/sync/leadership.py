"""Which instance syncs each source: one leader per source, elected through PostgreSQL itself.

Several ``pylantir run`` instances may share one PostgreSQL database; each source is synced by exactly one
of them at a time, its *leader*. Leadership of a source is a session-level advisory lock
(``pg_try_advisory_lock``) keyed by a stable 64-bit hash of the source name, held on a connection of its own
(:class:`PostgresLeadership`) for as long as the instance leads. PostgreSQL releases the locks of a session
when the session ends, so:

- a leader killed (SIGKILL, OOM) or stopped loses its sources at once: its socket closes and the server ends
  the session; another instance takes them on its next poll (:data:`POLL_SECONDS`);
- a leader cut off the network loses them when the server notices the silent peer: the server-side TCP
  keepalives and user timeout that every Pylantir session sets (:mod:`pylantir.store.postgres_tcp`) end the
  session after at most 20 s, and end the cut-off instance's other sessions alike (a write transaction it
  had open holds rows that the new leader's sync must wait for). The cut-off leader itself notices on its
  next poll (client-side keepalives and TCP user timeout) and stops starting syncs; a sync it had under way
  is refused at its commit (:meth:`PostgresLeadership.fence`), and any row it could still write is an
  idempotent upsert.

Sources spread over the instances: an instance leads at most its fair share, ``ceil(sources / instances)``,
where the instances are the leadership sessions open on the database (``pg_stat_activity``, by their
``application_name``), and hands back sources above its share between syncs. The instance that takes a
source over reloads its schedule from the database, so the source is synced once per interval whoever leads
it; a run the previous leader left open is closed as interrupted and the source synced at once, from the
stored state of its last committed sync (a sync's write is one transaction: no partial batch).

SQLite has one instance per file (``pylantir run`` holds :mod:`pylantir.store.run_lock`), which leads every
source (:class:`SoleLeadership`). :func:`source_leaders` says who leads each source, for ``pylantir sources
status`` and the HTTP service.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from pylantir.store import Database
from pylantir.store.postgres_tcp import SERVER_SILENCE_SECONDS, client_connect_args, end_silent_sessions
from pylantir.sync.lineage import Runner, instance_name, this_process
from pylantir.sync.pump import SyncStopped

log = logging.getLogger(__name__)

#: Seconds between two checks of the scheduler, each renewing the leadership (takeover, hand-back).
POLL_SECONDS = 1.0
#: The ``application_name`` prefix of the leadership sessions (what counts the instances).
APPLICATION = "pylantir-leader"
#: The longest a source stays without a leader after its leader is cut off the network (seconds).
TAKEOVER_BOUND = SERVER_SILENCE_SECONDS + POLL_SECONDS


def lock_key(source_name: str) -> int:
    """The advisory lock key of a source's leadership: a signed 64-bit hash of its name (stable everywhere)."""
    digest = hashlib.blake2b(source_name.encode(), digest_size=8, person=b"pylantir-lead").digest()
    return int.from_bytes(digest, "big", signed=True)


def _lock_parts(key: int) -> tuple[int, int]:
    """How ``pg_locks`` shows a 64-bit advisory key: ``classid`` (high 32 bits), ``objid`` (low 32 bits)."""
    return (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF


def application_name(runner: Runner) -> str:
    """The leadership session's ``application_name``: the instance's PID and host (63 bytes at most)."""
    return f"{APPLICATION} {runner.pid} {runner.host}"[:63]


@dataclass(frozen=True)
class Leader:
    """The instance leading a source."""

    host: str
    pid: int

    def describe(self) -> str:
        """``pid N on HOST``, as ``sources status`` shows a sync's runner."""
        return instance_name(self.pid, self.host)


class LeadershipView(Protocol):
    """What the HTTP service shows of an instance's leadership: which sources it leads, since when."""

    def leads(self, source_name: str) -> bool:
        """Whether this instance leads the source now."""

    def led(self) -> list[str]:
        """The sources this instance leads now."""

    def since(self, source_name: str) -> datetime | None:
        """When this instance came to lead the source (``None``: it does not lead it)."""


class Leadership(LeadershipView, Protocol):
    """What the scheduler asks: which sources this instance leads, renewed on every poll."""

    def update(self, busy: set[str]) -> set[str]:
        """Renew the leadership, take or hand back sources (never one in ``busy``); the sources newly led."""

    def fence(self, session: Session, source_name: str) -> None:
        """In a sync's write transaction: raise :class:`SyncStopped` unless this instance still leads it."""

    def close(self) -> None:
        """Hand back every source."""


class SoleLeadership:
    """The only instance (SQLite): it leads every source."""

    def __init__(self, source_names: Iterable[str]):
        self._names = list(source_names)
        self._since = datetime.now(UTC)

    def update(self, busy: set[str]) -> set[str]:
        """Nothing to renew."""
        return set()

    def leads(self, source_name: str) -> bool:
        """Always."""
        return True

    def fence(self, session: Session, source_name: str) -> None:
        """Nothing to check."""

    def led(self) -> list[str]:
        """Every source."""
        return list(self._names)

    def since(self, source_name: str) -> datetime | None:
        """When the instance started (it leads every source from its start)."""
        return self._since if source_name in self._names else None

    def close(self) -> None:
        """Nothing to hand back."""


class PostgresLeadership:
    """Leadership of sources as advisory locks held on one dedicated connection."""

    def __init__(self, database: Database, source_names: Iterable[str], runner: Runner | None = None):
        self._names = list(source_names)
        self._runner = runner or this_process()
        self._engine = create_engine(database.url, poolclass=NullPool, isolation_level="AUTOCOMMIT",
                                     connect_args=client_connect_args(database.url))
        end_silent_sessions(self._engine)
        self._connection: Connection | None = None
        self._backend_pid: int | None = None
        self._held: set[str] = set()
        #: When each held source was taken (read by the HTTP service's threads: one dict operation each).
        self._taken_at: dict[str, datetime] = {}
        self._unreachable = False

    def leads(self, source_name: str) -> bool:
        """Whether this instance holds the source's lock (as of the last poll)."""
        return source_name in self._held

    def led(self) -> list[str]:
        """The sources this instance leads, in configuration order."""
        return [name for name in self._names if name in self._held]

    def since(self, source_name: str) -> datetime | None:
        """When this instance took the source's lock (``None``: it does not hold it)."""
        return self._taken_at.get(source_name) if source_name in self._held else None

    def update(self, busy: set[str]) -> set[str]:
        """Check the session; hand back sources above the fair share (not ``busy``), then take free ones."""
        try:
            connection = self._connect()
            instances = int(connection.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name LIKE :prefix"), {"prefix": f"{APPLICATION} %"}) or 1)
            share = math.ceil(len(self._names) / max(instances, 1))
            for name in [n for n in reversed(self.led()) if n not in busy][: max(0, len(self._held) - share)]:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": lock_key(name)})
                self._held.discard(name)
                self._taken_at.pop(name, None)
                log.info("source '%s': handed over to another instance (%d instances share %d sources)",
                         name, instances, len(self._names))
            taken = set()
            for name in self._rotated():
                if len(self._held) >= share:
                    break
                if name not in self._held and connection.scalar(
                        text("SELECT pg_try_advisory_lock(:key)"), {"key": lock_key(name)}):
                    self._taken_at[name] = datetime.now(UTC)
                    self._held.add(name)
                    taken.add(name)
                    log.info("source '%s': this instance leads its sync now", name)
            self._unreachable = False
            return taken
        except SQLAlchemyError as exc:
            self._lost(exc)
            return set()

    def _rotated(self) -> list[str]:
        """The sources, starting at a place that differs between instances (they try different ones first)."""
        start = self._runner.pid % len(self._names) if self._names else 0
        return self._names[start:] + self._names[:start]

    def _connect(self) -> Connection:
        if self._connection is None:
            connection = self._engine.connect()
            try:
                connection.execute(text("SELECT set_config('application_name', :name, false)"),
                                   {"name": application_name(self._runner)})
                self._backend_pid = int(connection.scalar(text("SELECT pg_backend_pid()")) or 0)
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    def _lost(self, exc: SQLAlchemyError) -> None:
        """The session failed: every lock it held is gone (or soon will be); lead nothing until it is back."""
        if self._held:
            log.warning("lost the database session that holds the sync leadership of %s (%s); another instance "
                        "takes over", ", ".join(f"'{n}'" for n in self.led()), type(exc).__name__)
        elif not self._unreachable:
            log.warning("cannot reach the database to take the sync leadership of any source (%s); retrying",
                        type(exc).__name__)
        log.debug("leadership session failure", exc_info=exc)
        self._unreachable = True
        self._held.clear()
        self._taken_at.clear()
        self._discard_connection()

    def _discard_connection(self) -> None:
        connection, self._connection, self._backend_pid = self._connection, None, None
        if connection is not None:
            try:
                connection.invalidate()
                connection.close()
            except SQLAlchemyError:
                log.debug("closing the failed leadership session", exc_info=True)

    def fence(self, session: Session, source_name: str) -> None:
        """Refuse the write (:class:`SyncStopped`, rolled back) unless our session still holds the lock."""
        high, low = _lock_parts(lock_key(source_name))
        held = self._backend_pid is not None and source_name in self._held and session.scalar(text(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = :high "
            "AND objid::bigint = :low AND objsubid = 1 AND granted AND pid = :pid)"),
            {"high": high, "low": low, "pid": self._backend_pid})
        if not held:
            raise SyncStopped("abandoned", f"this instance no longer leads source '{source_name}' (another "
                                           "instance took it over): nothing of this sync was committed")

    def close(self) -> None:
        """End the session: every source is handed back at once."""
        self._held.clear()
        self._taken_at.clear()
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except SQLAlchemyError:
                log.debug("closing the leadership session", exc_info=True)
        self._engine.dispose()


def leadership_for(database: Database, source_names: Iterable[str], instance: Runner | None = None) -> Leadership:
    """The leadership of ``pylantir run``'s sources on this database (PostgreSQL: elected; SQLite: sole),
    held for ``instance`` (default: this process; the sync worker holds it for the ``run`` that started it)."""
    if database.engine.dialect.name == "postgresql":
        return PostgresLeadership(database, source_names, instance)
    return SoleLeadership(source_names)


def source_leaders(database: Database, source_names: Iterable[str]) -> dict[str, Leader]:
    """The instance leading each named source now (sources nobody leads are left out).

    PostgreSQL: the holders of the leadership locks, from ``pg_locks`` and their sessions' ``application_name``;
    SQLite: the ``pylantir run`` holding the file's run lock leads every source.
    """
    names = list(source_names)
    if database.engine.dialect.name != "postgresql":
        from pylantir.store.run_lock import run_lock_holder

        holder = run_lock_holder(database.url)
        return {name: Leader(holder.host, holder.pid) for name in names} if holder else {}
    by_parts = {_lock_parts(lock_key(name)): name for name in names}
    with database.engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT l.classid::bigint, l.objid::bigint, a.application_name FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.objsubid = 1 "
            "AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND a.application_name LIKE :prefix"), {"prefix": f"{APPLICATION} %"}).all()
    leaders = {}
    for high, low, name in rows:
        source = by_parts.get((int(high), int(low)))
        _, pid, host = (str(name).split(" ", 2) + ["", ""])[:3]
        if source is not None and pid.isdigit():
            leaders[source] = Leader(host, int(pid))
    return leaders
