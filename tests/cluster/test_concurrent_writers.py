"""Syncs and MPPS writing the same rows at once, as real processes on one PostgreSQL database.

- MPPS N-CREATE/N-SET traffic over real associations against two ``pylantir run`` instances while the
  source's leader syncs a source file that changes all the time: no completed exam goes back to SCHEDULED;
- two ``pylantir sync`` processes inserting the same new entries at once: both succeed, each entry once.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pynetdicom.sop_class import ModalityPerformedProcedureStep
from sqlalchemy import func, select

from pylantir.dicom.client import Peer, association
from pylantir.store import Database, PerformedProcedureStep, SyncRun, WorklistItem
from pylantir.sync.clock import as_utc

from .conftest import MAPPING, PYLANTIR, Cluster, csv_source, n_create_dataset, n_set_final, wait_for, write_source

pytestmark = [pytest.mark.postgres, pytest.mark.plugin("pylantir-csv")]

STEPS = 300  # MPPS steps performed (N-CREATE + N-SET COMPLETED each)
MPPS_CLIENTS = 4
ROWS = 1000  # entries of the source, all rewritten by every sync


def perform_steps(items: list[WorklistItem], ports: list[int], errors: list[str]) -> None:
    """N-CREATE then N-SET COMPLETED for every item, over one association per port (instances alternate)."""
    for number, port in enumerate(ports):
        with association(Peer("127.0.0.1", port, called_ae="PYLANTIR", timeout=60),
                         ModalityPerformedProcedureStep) as assoc:
            for item in items[number :: len(ports)]:
                uid = f"1.2.826.0.1.3680043.10.999.5.{item.id}"
                created, _ = assoc.send_n_create(n_create_dataset(item), ModalityPerformedProcedureStep, uid)
                done, _ = assoc.send_n_set(n_set_final(uid), ModalityPerformedProcedureStep, uid)
                if not created or not done or (created.Status, done.Status) != (0, 0):
                    errors.append(f"item {item.id}: N-CREATE {created}, N-SET {done}")


@pytest.fixture
def rewriting(tmp_path: Path) -> Iterator[tuple[Path, threading.Event]]:
    """A source file rewritten with new descriptions about 5 times a second until the test ends."""
    source = tmp_path / "ris.csv"
    write_source(source, ROWS, 0)
    done = threading.Event()

    def rewrite() -> None:
        generation = 0
        while not done.wait(0.2):
            generation += 1
            write_source(source, ROWS, generation)

    thread = threading.Thread(target=rewrite, name="rewrite-source")
    thread.start()
    yield source, done
    done.set()
    thread.join()


def test_mpps_status_is_never_overwritten_by_concurrent_syncs(cluster: Cluster, database: Database,
                                                              rewriting) -> None:
    source, _ = rewriting
    cluster.configure([csv_source("ris", source, 0.5)])
    instances = cluster.start(2)
    items = wait_for(lambda: _items_if(database, ROWS), 60, "the first sync")
    errors: list[str] = []
    chosen = items[:: len(items) // STEPS][:STEPS]
    ports = [instance.port for instance in instances]
    clients = [
        threading.Thread(target=perform_steps, args=(chosen[n::MPPS_CLIENTS], ports, errors))
        for n in range(MPPS_CLIENTS)
    ]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    assert errors == []
    # the source's leader finishes more syncs over the completed items (the other instance only serves)
    with database.session() as session:
        last = session.scalar(select(func.max(SyncRun.id)))

    def later_syncs() -> list[Any] | None:
        with database.session() as session:
            later = session.execute(
                select(SyncRun.host, SyncRun.pid).where(SyncRun.id > last, SyncRun.outcome == "success")
            ).all()
        return list(later) if len(later) >= 2 else None

    later = wait_for(later_syncs, 60, "the leader to sync again")
    assert {pid for _host, pid in later} <= {instance.pid for instance in instances}
    cluster.stop()
    with database.session() as session:
        completed = session.scalars(select(PerformedProcedureStep).where(PerformedProcedureStep.status == "COMPLETED"))
        statuses = {
            instance.worklist_item_id: (instance.worklist_item.scheduled_procedure_step_status,
                                        instance.worklist_item.status_from_mpps)
            for instance in completed
        }
        runs = session.scalars(select(SyncRun)).all()
    assert len(statuses) == STEPS
    back = {item: status for item, status in statuses.items() if status != ("COMPLETED", True)}
    assert back == {}, f"{len(back)} completed exams were overwritten by a sync"
    updated = sum(run.updated for run in runs)
    assert updated >= 3 * ROWS, "the syncs did not rewrite the rows while MPPS wrote them"
    assert all(run.outcome in ("success", "unchanged") for run in runs), [(r.outcome, r.error) for r in runs]
    assert cluster.tracebacks() == []


def _items_if(database: Database, count: int) -> list[WorklistItem] | None:
    """The worklist, once it holds ``count`` items."""
    with database.session() as session:
        items = list(session.scalars(select(WorklistItem).order_by(WorklistItem.id)).all())
    return items if len(items) == count else None


def test_two_processes_insert_the_same_new_entries(tmp_path: Path, cluster: Cluster, postgres_url: str) -> None:
    source = tmp_path / "ris.csv"
    write_source(source, 20_000, 0)
    config = cluster.configure([csv_source("ris", source, 60)])  # the schema is there: both start syncing at once
    syncs = [subprocess.Popen([*PYLANTIR, "sync", "--config", str(config)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"})
             for _ in range(2)]
    outputs = [process.communicate(timeout=300) for process in syncs]
    assert [process.returncode for process in syncs] == [0, 0], outputs
    database = Database.open(postgres_url)
    try:
        with database.session() as session:
            assert session.scalar(select(func.count()).select_from(WorklistItem)) == 20_000
            assert session.scalar(select(func.count(func.distinct(WorklistItem.identity)))) == 20_000
            runs: list[Any] = session.scalars(select(SyncRun).order_by(SyncRun.id)).all()
    finally:
        database.close()
    assert [run.outcome for run in runs] == ["success", "success"]
    first, second = runs
    # the two syncs overlapped (otherwise the second would just have found every entry stored)
    assert as_utc(second.started_at) < as_utc(first.finished_at)
    assert first.inserted + second.inserted >= 20_000


def test_instances_starting_their_first_sync_at_once(postgres_url: str) -> None:
    """Each instance records its run; none fails on the source's state row another one created meanwhile."""
    from datetime import UTC, datetime

    from pylantir.config import DataSourceSettings
    from pylantir.store import SourceState
    from pylantir.sync.lineage import begin_run

    source = DataSourceSettings(name="ris", type="csv", field_mapping=MAPPING)
    databases = [Database.open(postgres_url) for _ in range(8)]
    start, failures = threading.Barrier(len(databases)), []

    def begin(database: Database) -> None:
        start.wait()
        try:
            begin_run(database, source, datetime.now(UTC))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            failures.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=begin, args=(database,)) for database in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert failures == []
        with databases[0].session() as session:
            assert session.scalar(select(func.count()).select_from(SyncRun)) == len(databases)
            assert session.scalar(select(func.count()).select_from(SourceState)) == 1
    finally:
        for database in databases:
            database.close()
