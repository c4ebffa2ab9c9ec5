"""``pylantir run``'s write-back worker: delivery passes in a thread of its own, woken by each recorded change."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from pylantir.config import PylantirConfig
from pylantir.plugins import PluginRegistry
from pylantir.store import Database
from pylantir.sync.clock import Clock, SystemClock
from pylantir.writeback.delivery import Deliverer, PassReport

log = logging.getLogger(__name__)

#: Seconds between looks at the outbox when nothing wakes the worker: changes recorded by another instance
#: sharing the database, and retries that fell due.
POLL_SECONDS = 2.0
#: Shortest wait between passes (a retry due "now" is not busy-looped).
MIN_WAIT_SECONDS = 0.01


class WriteBackService:
    """Delivers the outbox of every source that writes back, until :meth:`stop`.

    :meth:`wake` (called by the MPPS handlers once a change is committed) starts a pass at once; otherwise a
    pass runs when the earliest retry is due, and at least every :data:`POLL_SECONDS`.
    """

    def __init__(self, config: PylantirConfig, registry: PluginRegistry, database: Database,
                 clock: Clock | None = None):
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.clock = clock or SystemClock()
        self.deliverer = Deliverer(config, registry, database, self.clock, self._stop)
        self._thread = threading.Thread(target=self._loop, name="pylantir-write-back", daemon=True)
        #: Called with the report of every pass that handed changes to a plugin (tests wait on it).
        self.on_pass: Callable[[PassReport], None] | None = None

    def start(self) -> None:
        """Start delivering (changes left by an earlier process first)."""
        log.info("write-back: delivering to %s", ", ".join(self.deliverer.sources))
        self._thread.start()

    def wake(self) -> None:
        """A change was recorded: deliver it now."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the batch in progress; wait up to ``timeout`` s. Undelivered changes stay pending."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                report = self.deliverer.run()
                due = self.deliverer.next_due()
            except SQLAlchemyError as exc:
                log.warning("write-back pass failed (%s); trying again in %g s", type(exc).__name__, POLL_SECONDS)
                log.debug("write-back pass failure", exc_info=exc)
                report, due = PassReport(), None
            if report.handled and self.on_pass is not None:
                self.on_pass(report)
            wait = POLL_SECONDS
            if due is not None:
                wait = min(wait, max((due - self.clock.now()).total_seconds(), MIN_WAIT_SECONDS))
            self._wake.wait(wait)
