"""Several real ``pylantir run`` processes on one PostgreSQL database: sources as CSV exports, the instances,
DICOM requests to them, and waiting on the database with deadlines."""

from __future__ import annotations

import csv
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pydicom import Dataset
from pydicom.sequence import Sequence

from pylantir.dicom.client import DicomClientError, Peer, echo
from pylantir.store import Database, WorklistItem

#: The installed ``pylantir`` console script, run as a site runs it.
PYLANTIR = [str(Path(sys.executable).with_name("pylantir"))]
MAPPING = {
    "mrn": "patient_id", "name": "patient_name", "day": "scheduled_start_date", "time": "scheduled_start_time",
    "modality": "modality", "accession": "accession_number", "exam": "study_description",
}
T = TypeVar("T")


@cache
def serves_http() -> bool:
    """Whether ``pylantir run`` has its HTTP service (``--http-port``): each instance then gets a port of its own."""
    usage = subprocess.run([*PYLANTIR, "run", "--help"], capture_output=True, text=True, timeout=60)
    return "--http-port" in usage.stdout


def write_source(path: Path, rows: int, generation: int = 0, prefix: str = "") -> None:
    """A CSV export of ``rows`` entries for today (Patient IDs ``{prefix}M00000``...); every generation changes
    every row's description. Written beside and renamed: a reader sees the old file or the new one."""
    temporary = path.with_suffix(".tmp")
    with temporary.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(MAPPING)
        writer.writerows([f"{prefix}M{n:06d}", f"Given{n} Family{n}", date.today().isoformat(), "0930", "MR",
                          f"{prefix}A{n:07d}", f"exam {n} v{generation}"] for n in range(rows))
    temporary.replace(path)


def csv_source(name: str, path: Path, interval: float) -> dict[str, Any]:
    """A source entry of the configuration for the CSV export at ``path``."""
    return {"name": name, "type": "csv", "sync_interval": interval, "config": {"file_path": str(path)},
            "field_mapping": MAPPING}


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(check: Callable[[], T | None], timeout: float, what: str, every: float = 0.05) -> T:
    """``check()``'s first truthy result, polled until ``timeout`` s; fails naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


@dataclass
class Instance:
    """One ``pylantir run`` process; its log (stderr) goes to a file."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path
    #: The port of its HTTP service (``None``: ``pylantir run`` has none).
    http_port: int | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def peer(self, timeout: float = 30) -> Peer:
        return Peer("127.0.0.1", self.port, called_ae="PYLANTIR", timeout=timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Cluster:
    """``pylantir run`` instances sharing one configuration file (each on its own port)."""

    directory: Path
    database_url: str
    instances: list[Instance] = field(default_factory=list)

    def configure(self, sources: list[dict[str, Any]], **extra: Any) -> Path:
        path = self.directory / "pylantir.json"
        path.write_text(json.dumps({
            "database_url": self.database_url,
            # three servers and their clients on two loaded cores: an association request may take its time
            "server": {"ae_title": "PYLANTIR", "host": "127.0.0.1", "port": 104, "association_timeout": 30},
            "data_sources": sources, **extra,
        }))
        return path

    def start(self, count: int = 1, *, wait: bool = True) -> list[Instance]:
        """Start ``count`` more instances; with ``wait``, return once each answers a C-ECHO."""
        started = []
        for _ in range(count):
            port = free_port()
            log = self.directory / f"instance-{len(self.instances)}.log"
            http_port = free_port() if serves_http() else None
            http = ["--http-port", str(http_port)] if http_port else []
            with log.open("wb") as handle:
                process = subprocess.Popen(
                    [*PYLANTIR, "run", "--config", str(self.directory / "pylantir.json"), "--port", str(port), *http],
                    stdout=subprocess.DEVNULL, stderr=handle,
                )
            instance = Instance(process, port, log, http_port)
            self.instances.append(instance)
            started.append(instance)
        if wait:
            for instance in started:
                self.wait_until_serving(instance)
        return started

    @staticmethod
    def wait_until_serving(instance: Instance, timeout: float = 60) -> None:
        def answers() -> bool:
            if instance.process.poll() is not None:
                pytest.fail(f"pylantir run exited early: {instance.output()[-3000:]}")
            try:
                echo(instance.peer(timeout=2))
                return True
            except DicomClientError:
                return False

        wait_for(answers, timeout, f"instance pid {instance.pid} to serve", every=0.1)

    def by_pid(self, pid: int) -> Instance:
        (instance,) = [instance for instance in self.instances if instance.pid == pid]
        return instance

    def alive(self) -> list[Instance]:
        return [instance for instance in self.instances if instance.process.poll() is None]

    def stop(self) -> None:
        """SIGTERM every instance still running, then wait (SIGKILL after 30 s)."""
        for instance in self.alive():
            instance.process.send_signal(signal.SIGTERM)
        for instance in self.instances:
            try:
                instance.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                instance.process.kill()
                instance.process.wait()

    def tracebacks(self) -> list[str]:
        """The tracebacks in the instances' logs (each with some context)."""
        found = []
        for instance in self.instances:
            output = instance.output()
            if "Traceback" in output:
                found.append(output[max(0, output.index("Traceback") - 300):][:3000])
        return found


@pytest.fixture
def cluster(tmp_path: Path, postgres_url: str) -> Iterator[Cluster]:
    """Instances on a new PostgreSQL database (migrated first, so that they start alike); all stopped after."""
    Database.open(postgres_url).close()
    running = Cluster(tmp_path, postgres_url)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def database(cluster: Cluster) -> Iterator[Database]:
    """The cluster's database, as the test reads it."""
    db = Database.open(cluster.database_url)
    yield db
    db.close()


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


def n_set_final(uid: str, status: str = "COMPLETED") -> Dataset:
    """An N-SET that ends the step (COMPLETED or DISCONTINUED) with one performed series."""
    ds = Dataset()
    ds.PerformedProcedureStepStatus = status
    ds.PerformedProcedureStepEndDate, ds.PerformedProcedureStepEndTime = "20260105", "104500"
    series = Dataset()
    series.SeriesInstanceUID = f"{uid}.1"
    series.ProtocolName = "T1"
    series.ReferencedImageSequence = series.ReferencedNonImageCompositeSOPInstanceSequence = Sequence()
    ds.PerformedSeriesSequence = Sequence([series])
    return ds
