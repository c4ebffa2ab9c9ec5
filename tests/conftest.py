"""Fixtures shared by the whole test tree: real SQLite files and real PostgreSQL databases, dcmtk, and
loopback HTTP servers for the fakes of external systems."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar

import pytest

from pylantir.store import Database

POSTGRES_ENV = "PYLANTIR_TEST_POSTGRES_URL"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a new SQLite file in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'worklist.sqlite'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of a new, empty PostgreSQL database, dropped after the test.

    Skips when ``PYLANTIR_TEST_POSTGRES_URL`` (a URL to a server where we may create databases,
    e.g. ``postgresql+psycopg2://postgres@127.0.0.1:5432/test``) is not set.
    """
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set: no PostgreSQL server to test against")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"pylantir_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using it runs once on SQLite and once on PostgreSQL (skipped when unavailable)."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A fresh, migrated worklist database at ``database_url`` (SQLite, and PostgreSQL when available)."""
    db = Database.open(database_url)
    yield db
    db.close()


def _dcmtk_tool(name: str) -> str | None:
    """dcmtk's ``name`` on PATH, passing over pynetdicom's scripts of the same name (installed in venvs)."""
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = shutil.which(name, path=directory)
        if candidate:
            version = subprocess.run([candidate, "--version"], capture_output=True, text=True, timeout=10)
            if "dcmtk" in version.stdout.lower():
                return candidate
    return None


DcmtkRunner = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture
def dcmtk() -> DcmtkRunner:
    """Run a dcmtk tool (``dcmtk("findscu", "-W", ...)``) with Nagle off; skip when dcmtk is absent."""

    def run(tool: str, *args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        path = _dcmtk_tool(tool)
        if path is None:
            pytest.skip(f"dcmtk's {tool} is not installed (apt-get install dcmtk)")
        return subprocess.run([path, *args], check=False, capture_output=True, text=True, timeout=timeout,
                              cwd=cwd, env={**os.environ, "TCP_NODELAY": "1"})

    return run


Server = TypeVar("Server", bound=ThreadingHTTPServer)


@pytest.fixture
def http_servers() -> Iterator[Callable[[Server], Server]]:
    """``start(server)``: serve a loopback HTTP server (a fake REDCap, Calpendo...) in a thread; stopped after."""
    running: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def start(server: Server) -> Server:
        thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
        thread.start()
        running.append((server, thread))
        return server

    yield start
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join()


class Modality:
    """A modality's MPPS over real associations to a server on 127.0.0.1: :meth:`start` (N-CREATE IN PROGRESS
    for a scheduled exam) and :meth:`end` (N-SET COMPLETED or DISCONTINUED with one performed series)."""

    def __init__(self, port: int, ae_title: str = "MR1"):
        self.port = port
        self.ae_title = ae_title

    def _send(self, send: Callable[..., object]) -> int:
        from pynetdicom import AE
        from pynetdicom.sop_class import ModalityPerformedProcedureStep

        ae = AE(ae_title=self.ae_title)
        ae.add_requested_context(ModalityPerformedProcedureStep)
        assoc = ae.associate("127.0.0.1", self.port)
        assert assoc.is_established, f"no association with 127.0.0.1:{self.port}"
        try:
            status, _attributes = send(assoc, ModalityPerformedProcedureStep)  # type: ignore[misc]
        finally:
            assoc.release()
        return int(status.Status)

    def start(self, study_uid: str, accession: str = "", sop_uid: str | None = None,
              started: tuple[str, str] = ("20260105", "101500")) -> str:
        """N-CREATE for the exam of ``study_uid``; returns the MPPS SOP Instance UID."""
        from pydicom import Dataset
        from pydicom.sequence import Sequence
        from pydicom.uid import generate_uid

        uid = sop_uid or generate_uid()
        ds = Dataset()
        step = Dataset()
        step.StudyInstanceUID = study_uid
        step.AccessionNumber = accession
        for keyword in ("RequestedProcedureID", "ScheduledProcedureStepID", "RequestedProcedureDescription",
                        "ScheduledProcedureStepDescription"):
            setattr(step, keyword, "")
        step.ScheduledProtocolCodeSequence = step.ReferencedStudySequence = Sequence()
        ds.ScheduledStepAttributesSequence = Sequence([step])
        ds.PatientName = ds.PatientID = ds.PatientBirthDate = ds.PatientSex = ""
        ds.ReferencedPatientSequence = Sequence()
        ds.PerformedProcedureStepID = "PPS1"
        ds.PerformedStationAETitle = self.ae_title
        ds.PerformedStationName = "MRSCANNER1"
        ds.PerformedLocation = ""
        ds.PerformedProcedureStepStartDate, ds.PerformedProcedureStepStartTime = started
        ds.PerformedProcedureStepStatus = "IN PROGRESS"
        ds.PerformedProcedureStepDescription = ds.PerformedProcedureTypeDescription = ""
        ds.ProcedureCodeSequence = ds.PerformedProtocolCodeSequence = ds.PerformedSeriesSequence = Sequence()
        ds.PerformedProcedureStepEndDate = ds.PerformedProcedureStepEndTime = ""
        ds.Modality = "MR"
        ds.StudyID = ""
        status = self._send(lambda assoc, sop_class: assoc.send_n_create(ds, sop_class, uid))
        assert status == 0, f"N-CREATE answered 0x{status:04X}"
        return uid

    def end(self, sop_uid: str, status: str = "COMPLETED", ended: tuple[str, str] = ("20260105", "104500")) -> None:
        """N-SET ``status`` with the end date/time and one performed series."""
        from pydicom import Dataset
        from pydicom.sequence import Sequence
        from pydicom.uid import generate_uid

        ds = Dataset()
        ds.PerformedProcedureStepStatus = status
        ds.PerformedProcedureStepEndDate, ds.PerformedProcedureStepEndTime = ended
        series = Dataset()
        series.SeriesInstanceUID = generate_uid()
        series.ProtocolName = "T1"
        series.ReferencedImageSequence = series.ReferencedNonImageCompositeSOPInstanceSequence = Sequence()
        ds.PerformedSeriesSequence = Sequence([series])
        answer = self._send(lambda assoc, sop_class: assoc.send_n_set(ds, sop_class, sop_uid))
        assert answer == 0, f"N-SET answered 0x{answer:04X}"


def _wait_until(condition: Callable[[], object], timeout: float = 30.0, what: str = "the condition") -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout:g} s")
        time.sleep(0.02)


@pytest.fixture
def modality() -> Callable[..., Modality]:
    """``modality(port)``: a :class:`Modality` sending MPPS to the server on 127.0.0.1:port."""
    return Modality


@pytest.fixture
def wait_until() -> Callable[..., None]:
    """``wait_until(condition, timeout=30, what=...)``: poll every 20 ms until true; fail after the timeout."""
    return _wait_until
