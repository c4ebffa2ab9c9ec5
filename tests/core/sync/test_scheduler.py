"""Scheduling with a manual clock: intervals, windows (also across midnight), concurrency, circuit breaker."""

from __future__ import annotations

import threading
from concurrent.futures import wait

from pylantir import SourceError
from pylantir.config import OperationInterval
from pylantir.sync.clock import ManualClock
from pylantir.sync.runner import sync_source
from pylantir.sync.scheduler import DEGRADED_AFTER, Scheduler, SourceHealth, in_window, next_due


def test_windows_including_ones_that_cross_midnight(kit) -> None:
    day = OperationInterval(start_time=(8, 0), end_time=(18, 0))
    night = OperationInterval(start_time=(22, 0), end_time=(2, 30))
    at = lambda h, m: kit.utc(2026, 1, 5, h, m)  # noqa: E731
    assert in_window(day, at(8, 0)) and in_window(day, at(18, 0)) and not in_window(day, at(18, 1))
    assert in_window(night, at(23, 0)) and in_window(night, at(1, 0)) and in_window(night, at(2, 30))
    assert not in_window(night, at(12, 0))


def test_next_due_follows_interval_window_and_site_timezone(kit) -> None:
    src = kit.source(sync_interval=600, operation_interval={"start_time": [8, 0], "end_time": [18, 0]})
    morning = kit.utc(2026, 1, 5, 9, 0)
    assert next_due(src, SourceHealth(), morning, "UTC") == morning
    assert next_due(src, SourceHealth(last_attempt=morning), morning, "UTC") == kit.utc(2026, 1, 5, 9, 10)
    evening = kit.utc(2026, 1, 5, 20, 0)
    assert next_due(src, SourceHealth(last_attempt=evening), evening, "UTC") == kit.utc(2026, 1, 6, 8, 0)
    # 07:30 UTC is 08:30 in Paris in winter: inside the window there
    early = kit.utc(2026, 1, 5, 7, 30)
    assert next_due(src, SourceHealth(), early, "Europe/Paris") == early
    assert next_due(src, SourceHealth(), early, "UTC") == kit.utc(2026, 1, 5, 8, 0)


def _scheduler(memory, sqlite_database, clock, sources):
    return Scheduler(
        sources, lambda s: sync_source(sqlite_database, memory.registry, s, clock=clock, retry_wait=0), clock, "UTC"
    )


def test_due_sources_sync_concurrently_and_one_failure_spares_the_others(memory, sqlite_database, kit) -> None:
    clock = ManualClock(kit.utc(2026, 1, 5, 9, 0))
    sources = [kit.source(name, sync_interval=60) for name in ("a", "b", "c")]
    for number, name in enumerate(("a", "b", "c")):
        memory.rows[name] = [kit.record(number)]
    memory.errors["b"] = [SourceError("down")]
    memory.gates["c"] = threading.Event()
    scheduler = _scheduler(memory, sqlite_database, clock, sources)
    try:
        futures = scheduler.tick()
        assert len(futures) == 3
        assert futures[0].result(timeout=30).outcome == "success"  # c is still blocked: a was not delayed
        assert futures[1].result(timeout=30).outcome == "failed"
        assert scheduler.tick() == []  # c is in flight, a and b not due yet
        memory.gates["c"].set()
        assert futures[2].result(timeout=30).outcome == "success"
        clock.advance(30)
        assert scheduler.tick() == []
        clock.advance(31)
        assert sorted(f.result(timeout=30).source for f in scheduler.tick()) == ["a", "b", "c"]
        assert scheduler.health["b"].consecutive_failures == 0
    finally:
        scheduler.stop()


def test_circuit_breaker_degrades_and_recovers(memory, sqlite_database, kit) -> None:
    clock = ManualClock(kit.utc(2026, 1, 5, 9, 0))
    src = kit.source("flaky", sync_interval=60)
    memory.rows["flaky"] = [kit.record(1)]
    memory.errors["flaky"] = [SourceError("down")] * (DEGRADED_AFTER + 1)
    scheduler = _scheduler(memory, sqlite_database, clock, [src])
    try:
        for _ in range(DEGRADED_AFTER):
            wait(scheduler.tick())
            clock.advance(60)
        health = scheduler.health["flaky"]
        assert health.degraded
        assert scheduler.tick() == []  # back-off is now 120 s since the last attempt
        clock.advance(60)
        wait(scheduler.tick())
        assert health.consecutive_failures == DEGRADED_AFTER + 1
        clock.advance(120)
        assert scheduler.tick() == []  # back-off doubled to 240 s
        clock.advance(120)
        (future,) = scheduler.tick()
        assert future.result(timeout=30).outcome == "success"
        wait([future])
        assert not health.degraded and health.consecutive_failures == 0
    finally:
        scheduler.stop()


def test_outside_the_window_nothing_runs(memory, sqlite_database, kit) -> None:
    clock = ManualClock(kit.utc(2026, 1, 5, 12, 0))
    src = kit.source("night", operation_interval={"start_time": [22, 0], "end_time": [2, 0]})
    scheduler = _scheduler(memory, sqlite_database, clock, [src])
    try:
        assert scheduler.tick() == []
        clock.advance(10 * 3600)
        assert len(scheduler.tick()) == 1
    finally:
        scheduler.stop()
