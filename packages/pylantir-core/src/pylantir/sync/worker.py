"""The sync worker: the process in which ``pylantir run`` syncs its sources, beside its DICOM and HTTP service.

A sync is CPU work in Python (reading, mapping, checking and comparing every row), and so is answering a
C-FIND: in one process they take turns on one interpreter lock and starve each other. ``pylantir run``
therefore syncs in a process of its own: :class:`~pylantir.sync.supervisor.SyncSupervisor` starts it as
``python -m pylantir.sync.worker FD``, FD being its end of a socket pair, and sends it its
:class:`~pylantir.sync.messages.WorkerSettings` first (:mod:`pylantir.sync.messages` has every message).
The worker runs the configuration's :class:`~pylantir.sync.service.SyncService`, holding the sources'
leadership in the name of the ``run`` (whose PID names the instance everywhere), and reports over the pair:

- ``Led`` whenever the sources it leads (or since when) change;
- ``Ready`` once its sync service runs;
- ``Finished`` with the result of every sync, scheduled or asked for.

It takes ``SyncNow`` (sync a source now, or join its sync running) and ``Stop``. It dies with the ``run``
(Linux: ``PR_SET_PDEATHSIG``, even when the ``run`` is killed; elsewhere it stops when the pair closes),
ignores SIGINT (a terminal's Ctrl-C reaches the ``run``, which stops it) and stops as on ``Stop`` on
SIGTERM. A sync it leaves unfinished is rolled back by the database, and its run closed as interrupted by
the next worker.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from multiprocessing.connection import Connection

from sqlalchemy.orm import Session

from pylantir.cli.logs import configure_logging
from pylantir.gcpolicy import freeze_start_up
from pylantir.plugins import PluginRegistry
from pylantir.store import Database
from pylantir.sync.leadership import Leadership, leadership_for
from pylantir.sync.lineage import runner_of
from pylantir.sync.messages import STOP_TIMEOUT, Finished, Led, Message, Ready, Stop, SyncNow, WorkerSettings
from pylantir.sync.service import SyncService

log = logging.getLogger(__name__)

#: ``prctl`` option: the signal this process gets when the thread that started it ends (``linux/prctl.h``).
PR_SET_PDEATHSIG = 1
#: Seconds between two looks at the stop flag while no message comes.
IDLE_POLL = 0.5


class ReportingLeadership:
    """A leadership that reports what it leads (:class:`Led`) each time that changes."""

    def __init__(self, leadership: Leadership, report: Callable[[Led], None]):
        self._leadership = leadership
        self._report = report
        self._reported: dict[str, datetime] | None = None

    def leads(self, source_name: str) -> bool:
        """Whether the instance leads the source now."""
        return self._leadership.leads(source_name)

    def led(self) -> list[str]:
        """The sources the instance leads now."""
        return self._leadership.led()

    def since(self, source_name: str) -> datetime | None:
        """When the instance came to lead the source."""
        return self._leadership.since(source_name)

    def fence(self, session: Session, source_name: str) -> None:
        """Raise :class:`~pylantir.sync.pump.SyncStopped` unless the instance still leads the source."""
        self._leadership.fence(session, source_name)

    def update(self, busy: set[str]) -> set[str]:
        """Renew the leadership, then report it if it changed."""
        taken = self._leadership.update(busy)
        self.report()
        return taken

    def close(self) -> None:
        """Hand back every source, and report it."""
        self._leadership.close()
        self._reported = None
        self._report(Led({}))

    def report(self) -> None:
        """Report what the instance leads, unless it was reported so already."""
        now = {name: since for name in self._leadership.led() if (since := self._leadership.since(name))}
        if now != self._reported:
            self._reported = now
            self._report(Led(now))


class Worker:
    """The sync service of one worker process, and its side of the pair."""

    def __init__(self, settings: WorkerSettings, channel: Connection):
        config = settings.config
        self._channel = channel
        self._sending = threading.Lock()
        self.database = Database(config.resolved_database_url(), echo=config.database_echo)
        names = [source.name for source in config.enabled_sources()]
        instance = runner_of(settings.instance_pid)
        self.leadership = ReportingLeadership(leadership_for(self.database, names, instance), self.send)
        self.service = SyncService(config, PluginRegistry.discover(settings.plugins_dir), self.database,
                                   leadership=self.leadership, instance=instance)
        self.service.on_finished = lambda result: self.send(Finished(result))

    def send(self, message: Message) -> None:
        """Send ``message`` to the ``run`` (from any thread); lost if the ``run`` is gone."""
        try:
            with self._sending:
                self._channel.send(message)
        except OSError:
            log.debug("sync worker: the run is gone; %s not sent", type(message).__name__)

    def serve(self, stop: threading.Event) -> None:
        """Sync on schedule and as asked until :class:`Stop`, SIGTERM (``stop``) or the ``run``'s end."""
        self.leadership.report()
        freeze_start_up()
        self.service.start()
        self.send(Ready())
        timeout = STOP_TIMEOUT
        try:
            while not stop.is_set():
                if not self._channel.poll(IDLE_POLL):
                    continue
                message = self._channel.recv()
                if isinstance(message, Stop):
                    timeout = message.timeout
                    break
                if isinstance(message, SyncNow):
                    self._sync_now(message.source)
        except (EOFError, OSError):
            log.warning("sync worker: the run that started it is gone; stopping")
        finally:
            self.service.stop(timeout)
            self.database.close()

    def _sync_now(self, source_name: str) -> None:
        try:
            self.service.submit(source_name)
        except KeyError:
            log.warning("sync worker: no enabled source '%s' to sync", source_name)


def _die_with_parent() -> None:
    """Linux: have the kernel kill this process when the ``run`` that started it ends, however it ends."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
            log.debug("sync worker: prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())


def main(argv: list[str]) -> int:
    """Run the worker on the pair end ``argv[0]`` (a file descriptor); its exit status."""
    channel = Connection(int(argv[0]))
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        settings: WorkerSettings = channel.recv()
    except (EOFError, OSError):
        return 1
    if os.getppid() != settings.instance_pid:  # the run ended before the kernel could be told to stop us with it
        return 1
    configure_logging(settings.log_verbosity, settings.log_format)
    try:
        worker = Worker(settings, channel)
    except Exception as exc:  # noqa: BLE001 - any failure to start is reported by the run, with our exit status
        log.error("sync worker: cannot start: %s: %s", type(exc).__name__, exc)
        log.debug("the sync worker's start failure", exc_info=True)
        return 2
    worker.serve(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
