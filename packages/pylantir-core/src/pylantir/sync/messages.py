"""What ``pylantir run`` and its sync worker (:mod:`pylantir.sync.worker`) tell each other over their socket pair.

The messages are pickled (``multiprocessing.connection``): both ends are this package, of one installation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pylantir.config import PylantirConfig
from pylantir.sync.result import SyncResult

#: Seconds a stopping worker waits for its running syncs before abandoning them (``Stop`` may say otherwise).
STOP_TIMEOUT = 30.0


@dataclass(frozen=True)
class WorkerSettings:
    """What the ``run`` tells its worker first: the configuration and how to find plugins and log."""

    config: PylantirConfig
    plugins_dir: Path | None
    #: The ``run``'s PID: the worker leads the sources in its name, and exits if it is not its parent.
    instance_pid: int
    log_verbosity: int
    log_format: str


@dataclass(frozen=True)
class Ready:
    """The worker's sync service runs."""


@dataclass(frozen=True)
class Led:
    """The sources the worker leads now, with when it came to lead each (none: it leads none)."""

    since: dict[str, datetime]


@dataclass(frozen=True)
class Finished:
    """A sync ended (committed or not)."""

    result: SyncResult


@dataclass(frozen=True)
class SyncNow:
    """Sync the enabled source now, or join its sync already running."""

    source: str


@dataclass(frozen=True)
class Stop:
    """Stop scheduling; wait up to ``timeout`` s for running syncs, then abandon them uncommitted; exit."""

    timeout: float = STOP_TIMEOUT


Message = Ready | Led | Finished | SyncNow | Stop
