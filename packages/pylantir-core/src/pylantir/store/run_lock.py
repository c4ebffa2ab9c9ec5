"""One ``pylantir run`` per SQLite file: a lock held for the process's lifetime.

SQLite allows one writer, and Pylantir's sync leadership between instances is elected through PostgreSQL,
so a second ``pylantir run`` on the same SQLite file is refused at start. The lock is an operating-system
lock (``flock``) on ``<database file>.run-lock``, which holds the owner's PID and host; the system releases
it when the process ends, however it ends. ``pylantir sync``, ``db`` and the other commands do not take it:
they may run beside the server as before.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlalchemy.engine import URL

from pylantir.store.database import sqlite_file

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no refusal (see docs/deployment.md)
    fcntl = None  # type: ignore[assignment]

#: How long a start waits for the lock (a ``sources status`` may be looking at it for a moment).
ACQUIRE_SECONDS = 2.0


class RunLockError(Exception):
    """Another ``pylantir run`` serves this SQLite file."""


@dataclass(frozen=True)
class Holder:
    """The process holding the run lock."""

    pid: int
    host: str


def lock_path(database_file: Path) -> Path:
    """The lock file of a SQLite database file."""
    return database_file.with_name(database_file.name + ".run-lock")


class RunLock:
    """The run lock of one SQLite file, held from :meth:`acquire` to :meth:`release` (or the process's end)."""

    def __init__(self, database_file: Path):
        self.database_file = database_file
        self.path = lock_path(database_file)
        self._handle: IO[str] | None = None

    def acquire(self, pid: int, host: str) -> None:
        """Take the lock, or raise :class:`RunLockError` naming the process that has it."""
        if fcntl is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.fdopen(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644), "r+")
        deadline = time.monotonic() + ACQUIRE_SECONDS
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read(handle)
                    handle.close()
                    who = f"pylantir run (pid {holder.pid} on {holder.host})" if holder else "another pylantir run"
                    raise RunLockError(
                        f"{who} already serves the SQLite database {self.database_file}: SQLite supports one "
                        "instance; to run several instances on one database use PostgreSQL (see docs/deployment.md)"
                    ) from None
                time.sleep(0.05)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": pid, "host": host}))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        """Give the lock back."""
        handle, self._handle = self._handle, None
        if handle is not None and fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()


def _read(handle: IO[str]) -> Holder | None:
    handle.seek(0)
    try:
        content = json.loads(handle.read() or "null")
        return Holder(int(content["pid"]), str(content["host"]))
    except (ValueError, TypeError, KeyError):
        return None


def run_lock_holder(url: str | URL) -> Holder | None:
    """The ``pylantir run`` serving this SQLite database now (``None``: none, or not a SQLite file)."""
    database_file = sqlite_file(url)
    if database_file is None or fcntl is None or not lock_path(database_file).exists():
        return None
    with lock_path(database_file).open() as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(handle)
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None
