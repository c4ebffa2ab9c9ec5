"""``pylantir run``'s side of its sync worker (:mod:`pylantir.sync.worker`): start it, watch it, replace it.

:class:`SyncSupervisor` is what the rest of the ``run`` (the HTTP service) sees of the sync: the plugin
registry, the leadership of the sources as the worker last reported it (:class:`ReportedLeadership`), a sync
asked for now (:meth:`SyncSupervisor.submit`, a future of its result), and whether the worker runs. The
metrics of every sync the worker reports are counted here, in the process that serves ``/metrics``.

A worker that ends while the ``run`` goes on (killed, out of memory, a crash) is replaced after
:data:`RESTART_DELAY` s, doubling up to :data:`MAX_RESTART_DELAY` s while replacements keep ending within
:data:`STABLE_AFTER` s; the syncs waited for are answered as failed, and the sources it led are led by
nobody (or by another instance) until the new worker takes them.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path

from pylantir import metrics
from pylantir.cli.logs import current_logging
from pylantir.config import PylantirConfig
from pylantir.plugins import PluginRegistry
from pylantir.sync.messages import STOP_TIMEOUT, Finished, Led, Message, Ready, Stop, SyncNow, WorkerSettings
from pylantir.sync.result import SyncResult
from pylantir.sync.runner import count_in_metrics

log = logging.getLogger(__name__)

#: Seconds a new worker gets to start syncing.
START_TIMEOUT = 60.0
#: Seconds, beyond the stop timeout, that a stopping worker gets to exit before it is killed.
EXIT_GRACE = 10.0
#: First wait before a dead worker is replaced, its doubling's cap, and the life after which it resets.
RESTART_DELAY = 1.0
MAX_RESTART_DELAY = 60.0
STABLE_AFTER = 60.0


class SyncWorkerError(Exception):
    """The sync worker could not be started."""


class ReportedLeadership:
    """The sources this instance leads, as its sync worker last reported (read by the HTTP service's threads)."""

    def __init__(self, source_names: list[str]):
        self._names = source_names
        self._since: dict[str, datetime] = {}

    def replace(self, since: dict[str, datetime]) -> None:
        """What the worker leads now (one assignment: readers see the old or the new state, whole)."""
        self._since = dict(since)

    def leads(self, source_name: str) -> bool:
        """Whether the worker leads the source."""
        return source_name in self._since

    def led(self) -> list[str]:
        """The sources the worker leads, in configuration order."""
        since = self._since
        return [name for name in self._names if name in since]

    def since(self, source_name: str) -> datetime | None:
        """When the worker came to lead the source (``None``: it does not lead it)."""
        return self._since.get(source_name)


def exit_description(returncode: int) -> str:
    """``exit code N``, or ``killed by SIGNAME`` for a process a signal ended."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


class SyncSupervisor:
    """The sync of ``pylantir run``, in a worker process: :meth:`start`, :meth:`submit`, :meth:`stop`."""

    def __init__(self, config: PylantirConfig, registry: PluginRegistry, plugins_dir: Path | None):
        self.config = config
        #: The plugins of the sources (the HTTP service names their owners).
        self.registry = registry
        self._plugins_dir = plugins_dir
        self.leadership = ReportedLeadership([source.name for source in config.enabled_sources()])
        self._lock = threading.Lock()
        self._waiting: dict[str, list[Future[SyncResult]]] = {}
        self._live = False  # the worker has said Ready and has not ended
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._channel: Connection | None = None
        self._started_at = 0.0
        self._ended: str | None = None  # how the last worker ended, while no new one is ready
        self._thread: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        """The worker's PID (``None`` before :meth:`start`)."""
        return self._process.pid if self._process is not None else None

    def problem(self) -> str | None:
        """Why the sync is not running now (``None``: its worker runs), for ``/ready``."""
        with self._lock:
            if self._live:
                return None
            return f"the sync worker process is not running ({self._ended or 'starting'})"

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the worker; return once it syncs. :class:`SyncWorkerError` if it ends or is silent first."""
        if not self._spawn():
            raise SyncWorkerError("the run is stopping")
        self._thread = threading.Thread(target=self._watch, name="pylantir-sync-supervisor", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.1):
            if self._ended is not None or time.monotonic() > deadline:
                self.stop(timeout=0)
                raise SyncWorkerError(
                    f"the sync worker process did not start ({self._ended or f'no answer in {timeout:g} s'}); "
                    "its error, if any, is logged above")

    def submit(self, source_name: str) -> Future[SyncResult]:
        """Sync the enabled source now (or join its sync running); a future of the result."""
        future: Future[SyncResult] = Future()
        with self._lock:
            waiting = self._waiting.setdefault(source_name, [])
            waiting.append(future)
            if len(waiting) == 1 and self._live:
                self._send(SyncNow(source_name))
        return future

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the worker (it waits up to ``timeout`` s for its running syncs); kill it if it does not exit."""
        self._stopping.set()
        with self._lock:
            process = self._process
            self._send(Stop(timeout))
        if process is not None:
            try:
                process.wait(timeout + EXIT_GRACE)
            except subprocess.TimeoutExpired:
                log.warning("the sync worker process (pid %d) did not stop in %g s; killing it", process.pid,
                            timeout + EXIT_GRACE)
                process.kill()
                process.wait()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def _spawn(self) -> bool:
        """Start a worker process and send it its settings, unless the ``run`` is stopping (under the lock:
        :meth:`stop` sees the new worker or none); whether it started one."""
        verbosity, log_format = current_logging()
        ours, theirs = multiprocessing.Pipe()
        with self._lock:
            if self._stopping.is_set():
                return False
            self._process = process = subprocess.Popen(
                [sys.executable, "-m", "pylantir.sync.worker", str(theirs.fileno())],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL)
            self._channel = ours
            self._started_at = time.monotonic()
            self._ended = None
        theirs.close()
        self._send(WorkerSettings(self.config, self._plugins_dir, os.getpid(),
                                  verbosity, log_format))
        log.info("sync worker process started (pid %d)", process.pid)
        return True

    def _send(self, message: Message | WorkerSettings) -> None:
        """Send to the worker; a worker that is gone gets nothing (its end is handled by :meth:`_watch`)."""
        try:
            if self._channel is not None:
                self._channel.send(message)
        except OSError:
            log.debug("the sync worker is gone: %s not sent", type(message).__name__)

    def _watch(self) -> None:
        """Take the worker's messages until it ends; replace it unless the ``run`` is stopping."""
        failures = 0
        while True:
            self._receive()
            assert self._process is not None
            ended = exit_description(self._process.wait())
            lived = time.monotonic() - self._started_at
            self._worker_ended(ended)
            if self._stopping.is_set() or not self._ready.is_set():
                return
            failures = 0 if lived >= STABLE_AFTER else failures + 1
            delay = min(RESTART_DELAY * 2 ** max(failures - 1, 0), MAX_RESTART_DELAY)
            metrics.SYNC_WORKER_RESTARTS.inc()
            log.warning("the sync worker process (pid %d) ended (%s); starting a new one in %g s",
                        self._process.pid, ended, delay)
            if self._stopping.wait(delay) or not self._spawn():
                return

    def _receive(self) -> None:
        channel = self._channel
        assert channel is not None
        while True:
            try:
                message = channel.recv()
            except (EOFError, OSError):
                channel.close()
                return
            self._handle(message)

    def _handle(self, message: Message) -> None:
        if isinstance(message, Led):
            self.leadership.replace(message.since)
        elif isinstance(message, Finished):
            count_in_metrics(message.result)
            with self._lock:
                waiting = self._waiting.pop(message.result.source, [])
            for future in waiting:
                future.set_result(message.result)
        elif isinstance(message, Ready):
            with self._lock:
                self._live = True
                for name in self._waiting:  # asked for while no worker ran
                    self._send(SyncNow(name))
            self._ready.set()

    def _worker_ended(self, ended: str) -> None:
        """Nothing is led any more; the syncs waited for failed."""
        self.leadership.replace({})
        with self._lock:
            self._live = False
            self._ended = ended
            waiting, self._waiting = self._waiting, {}
        for name, futures in waiting.items():
            result = SyncResult(source=name, outcome="failed",
                                error=f"the sync worker process ended ({ended}) before the sync finished")
            for future in futures:
                future.set_result(result)
