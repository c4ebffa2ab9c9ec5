"""The sync service: run once, background scheduling, clean shutdown, and checks before use."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from pylantir.store import SyncRun, WorklistItem
from pylantir.sync.checks import check_sources
from pylantir.sync.service import SyncService


def _count(database, model) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_run_once_syncs_enabled_sources_and_names_unknown_ones(memory, sqlite_database, kit) -> None:
    memory.rows["a"] = [kit.record(1)]
    memory.rows["b"] = [kit.record(2)]
    config = kit.config_of(kit.source("a"), kit.source("b"), kit.source("off", enabled=False))
    service = SyncService(config, memory.registry, sqlite_database)
    try:
        assert [r.outcome for r in service.run_once()] == ["success", "success"]
        assert [r.source for r in service.run_once(["b"])] == ["b"]
        with pytest.raises(ValueError, match="'off'"):
            service.run_once(["off"])
    finally:
        service.stop()
    assert _count(sqlite_database, WorklistItem) == 2 and memory.calls["off"] == 0


def test_background_scheduling_runs_each_source(memory, sqlite_database, kit) -> None:
    memory.rows["a"] = [kit.record(1)]
    service = SyncService(kit.config_of(kit.source("a", sync_interval=3600)), memory.registry, sqlite_database)
    service.start()
    try:
        for _ in range(300):
            if service.scheduler.health["a"].last_attempt and not service.scheduler.in_flight():
                break
            threading.Event().wait(0.05)
    finally:
        service.stop()
    assert _count(sqlite_database, WorklistItem) == 1 and memory.calls["a"] == 1


def test_stop_abandons_a_stuck_sync_without_committing(memory, sqlite_database, kit) -> None:
    memory.rows["slow"] = [kit.record(1)]
    memory.gates["slow"] = threading.Event()
    service = SyncService(kit.config_of(kit.source("slow")), memory.registry, sqlite_database)
    future = service.scheduler.submit(service.config.data_sources[0])
    service.stop(timeout=0.2)
    assert future.result(timeout=30).outcome == "abandoned"
    assert _count(sqlite_database, WorklistItem) == 0
    with sqlite_database.session() as session:
        assert session.scalars(select(SyncRun.outcome)).one() == "abandoned"


def test_check_sources_reports_every_problem(memory, kit) -> None:
    config = kit.config_of(
        kit.source("ok"),
        kit.source("typo", type="memroy"),
        kit.source("badconfig", config={"nope": 1}),
        kit.source("badmap", field_mapping={"x": {"from": "y"}}),
        kit.source("ok"),
        kit.source("off", type="missing", enabled=False),
    )
    problems = check_sources(config, memory.registry)
    assert any(p.startswith("data_sources[1] (typo): ") and "did you mean 'memory'" in p for p in problems)
    assert "data_sources[2] (badconfig).config.nope: unknown key" in problems
    assert any(p.startswith("data_sources[3] (badmap).field_mapping.x: ") for p in problems)
    assert "data_sources[4] (ok): another source has the same name" in problems
    assert len(problems) == 4
