"""Housekeeping against real SQLite and PostgreSQL databases, at a controlled "now": what each rule removes
and keeps, the batches, the lock between instances, and syncs that do not bring removed entries back."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select, text

from pylantir.config import PylantirConfig
from pylantir.housekeeping import LOCK_KEY, HousekeepingService, Pruner, PruneReport
from pylantir.store import Database, PerformedProcedureStep, RejectedRow, RemovedEntry, SyncRun, WorklistItem
from pylantir.store.removed import identity_digest
from pylantir.sync.clock import ManualClock
from pylantir.sync.runner import sync_source

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)  # 15 June in the site zone (UTC)
TODAY = date(2026, 6, 15)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def dated(days_before_today: int) -> str:
    return f"{TODAY - timedelta(days=days_before_today):%Y%m%d}"


def item(name: str, status: str = "SCHEDULED", *, day: str = "20260615", changed: float = 0, **values: Any
         ) -> WorklistItem:
    return WorklistItem(
        identity=f"acc:{name}", source_name="ris", content_hash="x", patient_id=name, patient_name="Doe^Jane",
        study_instance_uid=f"1.2.826.0.1.3680043.10.999.5.{abs(hash(name)) % 10**9}", modality="MR",
        scheduled_start_date=day, scheduled_start_time="090000", scheduled_start=day + "090000",
        scheduled_procedure_step_status=status, updated_at=ago(changed), created_at=ago(changed), **values)


def mpps(uid: str, status: str, changed: float, linked: WorklistItem | None = None) -> PerformedProcedureStep:
    return PerformedProcedureStep(sop_instance_uid=uid, status=status, worklist_item=linked, attributes={},
                                  created_at=ago(changed), updated_at=ago(changed))


def run(source: str, ended: float | None, rejected: int = 0) -> SyncRun:
    started = ago(ended if ended is not None else 200)
    return SyncRun(source_name=source, source_type="csv", started_at=started, outcome="success",
                   finished_at=None if ended is None else started,
                   rejected_rows=[RejectedRow(location=f"line {n}", reason="r") for n in range(rejected)])


def config(**housekeeping: Any) -> PylantirConfig:
    return PylantirConfig.model_validate({"housekeeping": housekeeping})


def patient_ids(database: Database) -> set[str]:
    with database.session() as session:
        return set(session.scalars(select(WorklistItem.patient_id)))


def count(database: Database, model: Any) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def site(database: Database) -> dict[str, Any]:
    """A worklist, MPPS instances and sync history on both sides of every default limit."""
    with database.session() as session:
        old_run = run("ris", ended=100, rejected=3)
        session.add_all([old_run, run("ris", ended=95), run("ris", ended=20, rejected=2),
                         run("ris", ended=10, rejected=1), run("ris", ended=None), run("lab", ended=200)])
        session.flush()
        done = item("DONE-OLD", "COMPLETED", changed=31, day=dated(40), created_run_id=old_run.id)
        recent_mpps = item("DONE-MPPS-RECENT", "COMPLETED", changed=31, day=dated(40))
        session.add_all([
            done, recent_mpps,
            item("DONE-RECENT", "COMPLETED", changed=29, day=dated(40)),
            item("STOPPED-OLD", "DISCONTINUED", changed=45, day=dated(45)),
            item("CANCELED-OLD", "CANCELED", changed=60, day=dated(60)),
            item("WAITING-8", day=dated(8), changed=100),
            item("ARRIVED-8", "ARRIVED", day=dated(8)),
            item("WAITING-7", day=dated(7)),
            item("WAITING-TODAY", created_run_id=old_run.id),
            item("STARTED-OLD", "STARTED", day=dated(100), changed=100),
            mpps("1.2.3.1", "COMPLETED", 31, done),
            mpps("1.2.3.2", "COMPLETED", 10, recent_mpps),
            mpps("1.2.3.3", "COMPLETED", 31),  # the item it named is gone
            mpps("1.2.3.4", "IN PROGRESS", 300),  # never finished: kept
            RemovedEntry(identity_digest="0" * 64, source_name="ris", scheduled_start=f"{dated(400)}090000"),
        ])
        waiting_in_progress = item("WAITING-30-IN-PROGRESS", day=dated(30), changed=30)
        session.add_all([waiting_in_progress, mpps("1.2.3.5", "IN PROGRESS", 30, waiting_in_progress)])
    return {"old_run": old_run.id}


KEPT = {"DONE-MPPS-RECENT", "DONE-RECENT", "WAITING-7", "WAITING-TODAY", "STARTED-OLD", "WAITING-30-IN-PROGRESS"}
REMOVED = {"DONE-OLD", "STOPPED-OLD", "CANCELED-OLD", "WAITING-8", "ARRIVED-8"}


def test_each_rule_removes_what_its_limit_passed_and_nothing_else(database: Database, site: dict[str, Any]) -> None:
    """Defaults (30 / 7 / 90 / 14 days): a dry run counts, the pass removes exactly that, and records what it
    removed; runs still under way and each source's latest run stay; rows name no removed run."""
    pruner = Pruner(database, config())
    expected = PruneReport(finished_items=3, expired_items=2, mpps_instances=2, rejected_rows=5, sync_runs=2,
                           removed_entry_records=1)
    dry = pruner.run(NOW, dry_run=True)
    assert dry == PruneReport(**{**vars(expected), "dry_run": True}) and patient_ids(database) == KEPT | REMOVED
    assert pruner.run(NOW) == expected
    assert patient_ids(database) == KEPT
    with database.session() as session:
        assert set(session.scalars(select(PerformedProcedureStep.sop_instance_uid))) == {"1.2.3.2", "1.2.3.4",
                                                                                        "1.2.3.5"}
        runs = sorted((r.source_name, r.finished_at is None, len(r.rejected_rows))
                      for r in session.scalars(select(SyncRun)))
        # ris: 20 days (its rejected rows gone), 10 days, the one under way (ris's latest); lab's latest (200 days)
        assert runs == [("lab", False, 0), ("ris", False, 0), ("ris", False, 1), ("ris", True, 0)]
        today = session.scalar(select(WorklistItem).where(WorklistItem.patient_id == "WAITING-TODAY"))
        assert today is not None and today.created_run_id is None  # its run is gone
        records = set(session.scalars(select(RemovedEntry.identity_digest)))
    assert records == {identity_digest(f"acc:{name}") for name in REMOVED}
    assert pruner.run(NOW) == PruneReport()  # nothing left to do


def test_null_keeps_for_ever_and_zero_days_is_today(database: Database, site: dict[str, Any]) -> None:
    """null turns a rule off; expired_items_days 0 removes every waiting item dated before today."""
    keep_all = config(finished_items_days=None, expired_items_days=None, sync_runs_days=None,
                      rejected_rows_days=None)
    assert Pruner(database, keep_all).run(NOW) == PruneReport(removed_entry_records=1)
    assert patient_ids(database) == KEPT | REMOVED
    report = Pruner(database, config(finished_items_days=None, expired_items_days=0, sync_runs_days=None,
                                     rejected_rows_days=None)).run(NOW)
    assert report.expired_items == 3  # 8, 8 (arrived) and 7 days old; the one with an MPPS IN PROGRESS stays
    assert patient_ids(database) == {"DONE-OLD", "DONE-MPPS-RECENT", "DONE-RECENT", "STOPPED-OLD", "CANCELED-OLD",
                                     "WAITING-TODAY", "STARTED-OLD", "WAITING-30-IN-PROGRESS"}


def test_expiry_is_judged_in_the_site_time_zone(database: Database) -> None:
    """At 20:00 UTC on 15 June it is already 16 June in Tokyo: a 7-day limit then reaches 8 June's items."""
    with database.session() as session:
        session.add_all([item("EIGHTH", day="20260608"), item("NINTH", day="20260609")])
    tokyo = PylantirConfig.model_validate({"timezone": "Asia/Tokyo"})
    assert Pruner(database, config()).run(NOW.replace(hour=20)).expired_items == 0
    assert Pruner(database, tokyo).run(NOW.replace(hour=20)).expired_items == 1
    assert patient_ids(database) == {"NINTH"}


def test_batches_are_small_transactions(database: Database) -> None:
    """batch_size 50 over 420 finished items: nine DELETEs of at most 50 rows, each committed on its own."""
    with database.session() as session:
        session.add_all([item(f"OLD{n:03d}", "COMPLETED", changed=40) for n in range(420)])
    deleted: list[int] = []
    events: list[str] = []

    def executed(_conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE FROM WORKLIST_ITEMS"):
            deleted.append(cursor.rowcount if cursor.rowcount >= 0 else -1)
            events.append("delete")

    event.listen(database.engine, "after_cursor_execute", executed)
    event.listen(database.engine, "commit", lambda _conn: events.append("commit"))
    report = Pruner(database, config(batch_size=50)).run(NOW)
    assert report.finished_items == 420 and patient_ids(database) == set()
    assert len(deleted) == 9 and all(rows <= 50 for rows in deleted)
    assert "delete, delete" not in ", ".join(events)  # a commit between any two batches


def test_a_stop_ends_the_pass_between_batches(database: Database) -> None:
    """A set stop event ends the pass before its next batch (``pylantir run`` shutting down)."""
    with database.session() as session:
        session.add_all([item(f"OLD{n:03d}", "COMPLETED", changed=40) for n in range(30)])
    stop = threading.Event()
    stop.set()
    assert Pruner(database, config(batch_size=10), stop).run(NOW).finished_items == 0
    assert len(patient_ids(database)) == 30


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_only_one_instance_prunes_a_postgresql_database_at_a_time(database: Database) -> None:
    """While another session holds the advisory lock, a pass does nothing and says why; then it runs."""
    with database.session() as session:
        session.add(item("DONE", "COMPLETED", changed=40))
    with database.engine.connect() as other, other.begin():
        other.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        report = Pruner(database, config()).run(NOW)
        assert report.skipped == "another instance is pruning this database" and report.finished_items == 0
        assert report.summary() == "housekeeping skipped: another instance is pruning this database"
    assert Pruner(database, config()).run(NOW).finished_items == 1


def test_a_sync_does_not_bring_back_what_housekeeping_removed(memory: Any, database: Database, kit: Any) -> None:
    """A source that keeps returning a COMPLETED exam and a no-show: once removed, the next syncs leave them
    out (counted, not inserted); when the source reschedules the no-show later, it comes back."""
    done, no_show, today = (kit.record(1, date="2026-06-01"), kit.record(2, date="2026-06-03"),
                            kit.record(3, date="2026-06-15"))
    memory.rows["alpha"] = [done, no_show, today]
    source = kit.source()
    clock = ManualClock(NOW)
    assert sync_source(database, memory.registry, source, clock=clock).inserted == 3
    with database.session() as session:
        session.execute(WorklistItem.__table__.update().where(WorklistItem.patient_id == "P00001").values(
            scheduled_procedure_step_status="COMPLETED", status_from_mpps=True, updated_at=ago(40)))
    report = Pruner(database, config()).run(NOW)
    assert (report.finished_items, report.expired_items) == (1, 1)
    assert patient_ids(database) == {"P00003"}

    again = sync_source(database, memory.registry, source, clock=clock)
    assert (again.inserted, again.already_removed) == (0, 2) and patient_ids(database) == {"P00003"}
    memory.rows["alpha"] = [done, kit.record(2, date="2026-06-20"), today]  # rescheduled (same accession)
    later = sync_source(database, memory.registry, source, clock=clock)
    assert (later.inserted, later.already_removed) == (1, 1)
    assert patient_ids(database) == {"P00002", "P00003"}


def test_the_running_service_prunes_on_its_schedule(database: Database) -> None:
    """HousekeepingService: the first pass one interval after start, then every interval, at its clock's now."""
    with database.session() as session:
        session.add_all([item("DONE", "COMPLETED", changed=31), item("WAITING", day=dated(7))])
    passes: list[PruneReport] = []
    done = threading.Event()

    def passed(report: PruneReport) -> None:
        passes.append(report)
        if len(passes) == 2:
            done.set()

    service = HousekeepingService(database, config(interval_minutes=0.002), ManualClock(NOW))
    service.on_pass = passed
    service.start()
    try:
        assert done.wait(30)
    finally:
        service.stop()
    assert passes[0].finished_items == 1 and passes[1] == PruneReport()
    assert patient_ids(database) == {"WAITING"}


def test_the_defaults_are_the_documented_ones() -> None:
    """docs/operations.md lists these."""
    settings = PylantirConfig().housekeeping
    assert (settings.enabled, settings.interval_minutes, settings.batch_size, settings.finished_items_days,
            settings.expired_items_days, settings.sync_runs_days, settings.rejected_rows_days,
            settings.write_back_days) == (True, 60, 500, 30, 7, 90, 14, 30)

