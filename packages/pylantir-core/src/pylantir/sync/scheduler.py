"""When each source syncs: intervals, operation windows, concurrency and the circuit breaker.

A source is due ``sync_interval`` seconds after its last attempt, and only inside its
``operation_interval`` (site timezone; ``start_time`` after ``end_time`` means the window crosses
midnight; the end minute is included). Each source syncs in its own worker thread, at most one sync per
source at a time, so a slow source never delays another; the runner's per-source timeout bounds a stuck one.

Circuit breaker: after :data:`DEGRADED_AFTER` consecutive failed syncs a source is *degraded* and is
retried on a doubling back-off (``sync_interval * 2**k``, at most :data:`MAX_BACKOFF` seconds or its own
interval if longer) until a sync succeeds again, which clears it.

Several instances (``pylantir run`` on one PostgreSQL database): with a :class:`~pylantir.sync.leadership.
Leadership`, a scheduler starts syncs of the sources its instance leads only, renews the leadership before
each check, and takes the schedule of a source it takes over from the database (``taken_over``), where the
previous leader left it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pylantir.config import DataSourceSettings, OperationInterval
from pylantir.sync.clock import Clock
from pylantir.sync.leadership import POLL_SECONDS, Leadership
from pylantir.sync.runner import SyncResult

log = logging.getLogger(__name__)

DEGRADED_AFTER = 3
MAX_BACKOFF = 3600.0


@dataclass
class SourceHealth:
    """What the scheduler remembers of a source between syncs (loaded from ``SourceState``)."""

    last_attempt: datetime | None = None
    consecutive_failures: int = 0

    @property
    def degraded(self) -> bool:
        """Whether the circuit breaker has tripped."""
        return self.consecutive_failures >= DEGRADED_AFTER


def _minutes(clock_time: tuple[int, int]) -> int:
    return clock_time[0] * 60 + clock_time[1]


def in_window(window: OperationInterval, local: datetime) -> bool:
    """Whether the local time lies in the daily window (which may cross midnight)."""
    now, start, end = local.hour * 60 + local.minute, _minutes(window.start_time), _minutes(window.end_time)
    return start <= now <= end if start <= end else now >= start or now <= end


def window_start_after(window: OperationInterval, local: datetime) -> datetime:
    """The next time at or after ``local`` that lies in the window."""
    if in_window(window, local):
        return local
    start = local.replace(hour=window.start_time[0], minute=window.start_time[1], second=0, microsecond=0)
    return start if start > local else start + timedelta(days=1)


def retry_interval(source: DataSourceSettings, failures: int) -> float:
    """Seconds between attempts: the interval, or the circuit breaker's back-off once degraded."""
    if failures < DEGRADED_AFTER:
        return source.sync_interval
    backoff = source.sync_interval * 2 ** (failures - DEGRADED_AFTER + 1)
    return min(backoff, max(MAX_BACKOFF, source.sync_interval))


def next_due(source: DataSourceSettings, health: SourceHealth, now: datetime, site_timezone: str) -> datetime:
    """When the source should sync next (``now`` or earlier when it is due)."""
    due = now
    if health.last_attempt is not None:
        due = health.last_attempt + timedelta(seconds=retry_interval(source, health.consecutive_failures))
    return window_start_after(source.operation_interval, max(due, now).astimezone(ZoneInfo(site_timezone)))


class Scheduler:
    """Runs ``run(source)`` for every due source in a worker pool; :meth:`tick` checks once."""

    def __init__(
        self,
        sources: Iterable[DataSourceSettings],
        run: Callable[[DataSourceSettings], SyncResult],
        clock: Clock,
        site_timezone: str,
        health: dict[str, SourceHealth] | None = None,
        leadership: Leadership | None = None,
        taken_over: Callable[[set[str]], dict[str, SourceHealth]] | None = None,
    ):
        """``taken_over(names)``: the stored health of sources this instance has just come to lead."""
        self.sources = list(sources)
        self.health = {source.name: SourceHealth() for source in self.sources} | (health or {})
        self._run = run
        self._clock = clock
        self._zone = site_timezone
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(self.sources)), thread_name_prefix="pylantir-sync")
        self._lock = threading.Lock()
        self._in_flight: dict[str, Future[SyncResult]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._leadership = leadership
        self._taken_over = taken_over

    def due(self, now: datetime) -> list[DataSourceSettings]:
        """Sources due at ``now`` that this instance leads and that are not syncing already."""
        return [
            source
            for source in self.sources
            if source.name not in self._in_flight and (self._leadership is None or self._leadership.leads(source.name))
            and next_due(source, self.health[source.name], now, self._zone) <= now
        ]

    def tick(self) -> list[Future[SyncResult]]:
        """Renew the leadership (if any); start a sync of every due source; return their futures."""
        if self._leadership is not None:
            with self._lock:
                busy = set(self._in_flight)
            taken = self._leadership.update(busy)
            fresh = self._taken_over(taken) if taken and self._taken_over is not None else {}
            with self._lock:
                self.health.update({name: health for name, health in fresh.items() if name in self.health})
        with self._lock:
            return [self._submit(source) for source in self.due(self._clock.now())]

    def submit(self, source: DataSourceSettings) -> Future[SyncResult]:
        """Sync ``source`` now, or return the sync already running."""
        with self._lock:
            return self._in_flight.get(source.name) or self._submit(source)

    def _submit(self, source: DataSourceSettings) -> Future[SyncResult]:
        self.health[source.name].last_attempt = self._clock.now()
        future = self._pool.submit(self._tracked, source)
        self._in_flight[source.name] = future
        return future

    def _tracked(self, source: DataSourceSettings) -> SyncResult:
        """Run one sync; its health is updated before its future completes."""
        ok = False
        try:
            result = self._run(source)
            ok = result.ok
            return result
        finally:
            self._finished(source, ok)

    def _finished(self, source: DataSourceSettings, ok: bool) -> None:
        with self._lock:
            self._in_flight.pop(source.name, None)
            health = self.health[source.name]
            was_degraded = health.degraded
            health.consecutive_failures = 0 if ok else health.consecutive_failures + 1
        if ok and was_degraded:
            log.info("source '%s' answers again: no longer degraded", source.name)
        elif health.consecutive_failures == DEGRADED_AFTER:
            log.warning(
                "source '%s' is degraded after %d consecutive failed syncs; retrying every %.0f s at most",
                source.name, DEGRADED_AFTER, retry_interval(source, health.consecutive_failures),
            )

    def start(self) -> None:
        """Check for due sources in a background thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._loop, name="pylantir-scheduler", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the scheduler must keep going
                log.exception("sync scheduler: unexpected error")
            self._stop.wait(POLL_SECONDS)

    def in_flight(self) -> list[Future[SyncResult]]:
        """Futures of the syncs running now."""
        with self._lock:
            return list(self._in_flight.values())

    def stop(self) -> None:
        """Stop starting syncs (running ones go on) and release idle workers when they finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._pool.shutdown(wait=False, cancel_futures=True)
