"""Syncs and MPPS writing the same rows at once, as real processes on one PostgreSQL database.

- MPPS N-CREATE/N-SET traffic over real associations against two ``pylantir run`` instances while both
  sync a source file that changes all the time: no completed exam goes back to SCHEDULED;
- two ``pylantir sync`` processes inserting the same new entries at once: both succeed, each entry once.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydicom import Dataset
from pydicom.sequence import Sequence
from pynetdicom.sop_class import ModalityPerformedProcedureStep
from sqlalchemy import func, select

from pylantir.dicom.client import DicomClientError, Peer, association, echo
from pylantir.store import Database, PerformedProcedureStep, SyncRun, WorklistItem
from pylantir.sync.clock import as_utc

PYLANTIR = [sys.executable, "-c", "from pylantir.cli.main import main; main()"]
MAPPING = {
    "mrn": "patient_id", "name": "patient_name", "day": "scheduled_start_date", "time": "scheduled_start_time",
    "modality": "modality", "accession": "accession_number", "exam": "study_description",
}
STEPS = 300  # MPPS steps performed (N-CREATE + N-SET COMPLETED each)
MPPS_CLIENTS = 4
ROWS = 1000  # entries of the source, all rewritten by every sync


def write_source(path: Path, rows: int, generation: int) -> None:
    """A CSV export of ``rows`` entries for today; every generation changes every row's description."""
    temporary = path.with_suffix(".tmp")
    with temporary.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(MAPPING)
        for n in range(rows):
            writer.writerow([f"M{n:05d}", f"Given{n} Family{n}", date.today().isoformat(), "0930", "MR",
                             f"A{n:07d}", f"exam {n} v{generation}"])
    temporary.replace(path)  # the reader sees the old file or the new one, never half of one


def write_config(tmp_path: Path, database_url: str, source: Path, port: int, interval: float) -> Path:
    path = tmp_path / f"pylantir-{port}.json"
    path.write_text(json.dumps({
        "database_url": database_url,
        "server": {"ae_title": "PYLANTIR", "host": "127.0.0.1", "port": port},
        "data_sources": [{"name": "ris", "type": "csv", "sync_interval": interval,
                          "config": {"file_path": str(source)}, "field_mapping": MAPPING}],
    }))
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_serving(process: subprocess.Popen[str], port: int) -> None:
    for _ in range(300):
        if process.poll() is not None:
            pytest.fail(f"pylantir run exited early: {process.communicate()[1][-2000:]}")
        try:
            echo(Peer("127.0.0.1", port, called_ae="PYLANTIR", timeout=2))
            return
        except DicomClientError:
            time.sleep(0.1)
    pytest.fail("pylantir run did not start serving")


def stop(process: subprocess.Popen[str]) -> str:
    """SIGTERM, then wait (kill after 30 s); the process's stderr."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.communicate(timeout=30)[1]
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()[1]


def n_create_dataset(item: WorklistItem) -> Dataset:
    """An N-CREATE IN PROGRESS for ``item``, as a modality sends it."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    step = Dataset()
    step.StudyInstanceUID = item.study_instance_uid
    step.AccessionNumber = item.accession_number
    step.RequestedProcedureID = step.ScheduledProcedureStepID = ""
    step.RequestedProcedureDescription = step.ScheduledProcedureStepDescription = ""
    step.ScheduledProtocolCodeSequence = step.ReferencedStudySequence = Sequence()
    ds.ScheduledStepAttributesSequence = Sequence([step])
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "", item.patient_id, "", ""
    ds.ReferencedPatientSequence = Sequence()
    ds.PerformedProcedureStepID, ds.PerformedStationAETitle = "PPS1", "MR1"
    ds.PerformedStationName = ds.PerformedLocation = ""
    ds.PerformedProcedureStepStartDate, ds.PerformedProcedureStepStartTime = "20260105", "101500"
    ds.PerformedProcedureStepStatus = "IN PROGRESS"
    ds.PerformedProcedureStepDescription = ds.PerformedProcedureTypeDescription = ""
    ds.ProcedureCodeSequence = Sequence()
    ds.PerformedProcedureStepEndDate = ds.PerformedProcedureStepEndTime = ""
    ds.Modality, ds.StudyID = "MR", ""
    ds.PerformedProtocolCodeSequence = ds.PerformedSeriesSequence = Sequence()
    return ds


def n_set_completed(uid: str) -> Dataset:
    ds = Dataset()
    ds.PerformedProcedureStepStatus = "COMPLETED"
    ds.PerformedProcedureStepEndDate, ds.PerformedProcedureStepEndTime = "20260105", "104500"
    series = Dataset()
    series.SeriesInstanceUID = f"{uid}.1"
    series.ProtocolName = "T1"
    series.ReferencedImageSequence = series.ReferencedNonImageCompositeSOPInstanceSequence = Sequence()
    ds.PerformedSeriesSequence = Sequence([series])
    return ds


def perform_steps(items: list[WorklistItem], ports: list[int], errors: list[str]) -> None:
    """N-CREATE then N-SET COMPLETED for every item, over one association per port (instances alternate)."""
    for number, port in enumerate(ports):
        with association(Peer("127.0.0.1", port, called_ae="PYLANTIR", timeout=60),
                         ModalityPerformedProcedureStep) as assoc:
            for item in items[number :: len(ports)]:
                uid = f"1.2.826.0.1.3680043.10.999.5.{item.id}"
                created, _ = assoc.send_n_create(n_create_dataset(item), ModalityPerformedProcedureStep, uid)
                done, _ = assoc.send_n_set(n_set_completed(uid), ModalityPerformedProcedureStep, uid)
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


@pytest.mark.plugin("pylantir-csv")
def test_mpps_status_is_never_overwritten_by_concurrent_syncs(tmp_path: Path, postgres_url: str, rewriting) -> None:
    source, _ = rewriting
    database = Database.open(postgres_url)
    ports = [free_port(), free_port()]
    instances = [
        subprocess.Popen([*PYLANTIR, "run", "--config", str(write_config(tmp_path, postgres_url, source, port, 0.5))],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for port in ports
    ]
    try:
        for process, port in zip(instances, ports, strict=True):
            wait_until_serving(process, port)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with database.session() as session:
                items = session.scalars(select(WorklistItem).order_by(WorklistItem.id)).all()
            if len(items) == ROWS:
                break
            time.sleep(0.2)
        assert len(items) == ROWS, "the first sync did not land"
        errors: list[str] = []
        chosen = items[:: len(items) // STEPS][:STEPS]
        clients = [
            threading.Thread(target=perform_steps, args=(chosen[n::MPPS_CLIENTS], ports, errors))
            for n in range(MPPS_CLIENTS)
        ]
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        assert errors == []
        print("steps done", time.monotonic() - deadline + 60)
        # every instance finishes at least one more sync over the completed items
        with database.session() as session:
            last = session.scalar(select(func.max(SyncRun.id)))
        while time.monotonic() < deadline + 60:
            with database.session() as session:
                later = session.execute(
                    select(SyncRun.host, SyncRun.pid).where(SyncRun.id > last, SyncRun.outcome == "success")
                ).all()
            if len(set(later)) == len(instances):
                break
            time.sleep(0.2)
        assert len(set(later)) == len(instances), "not every instance synced again"
    finally:
        logs = [stop(process) for process in instances]
    with database.session() as session:
        completed = session.scalars(select(PerformedProcedureStep).where(PerformedProcedureStep.status == "COMPLETED"))
        statuses = {
            instance.worklist_item_id: (instance.worklist_item.scheduled_procedure_step_status,
                                        instance.worklist_item.status_from_mpps)
            for instance in completed
        }
        runs = session.scalars(select(SyncRun)).all()
    database.close()
    assert len(statuses) == STEPS
    back = {item: status for item, status in statuses.items() if status != ("COMPLETED", True)}
    assert back == {}, f"{len(back)} completed exams were overwritten by a sync"
    updated = sum(run.updated for run in runs)
    assert updated >= 3 * ROWS, "the syncs did not rewrite the rows while MPPS wrote them"
    assert all(run.outcome in ("success", "unchanged") for run in runs), [(r.outcome, r.error) for r in runs]
    Path(os.environ.get("PYLANTIR_TEST_LOG_DIR", tmp_path), "instances.log").write_text("\n".join(logs))
    tracebacks = [log[log.index("Traceback") - 300 :][:3000] for log in logs if "Traceback" in log]
    assert tracebacks == []


@pytest.mark.plugin("pylantir-csv")
def test_two_processes_insert_the_same_new_entries(tmp_path: Path, postgres_url: str) -> None:
    source = tmp_path / "ris.csv"
    write_source(source, 20_000, 0)
    config = write_config(tmp_path, postgres_url, source, free_port(), 60)
    Database.open(postgres_url).close()  # the schema first, so that both processes start syncing at once
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
