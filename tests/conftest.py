"""Fixtures shared by the whole test tree: real SQLite files and real PostgreSQL databases, dcmtk, and
loopback HTTP servers for the fakes of external systems."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar

import pytest

from pylantir.store import Database

POSTGRES_ENV = "PYLANTIR_TEST_POSTGRES_URL"


def pytest_runtest_setup(item: pytest.Item) -> None:
    """``@pytest.mark.plugin("pylantir-csv", ...)``: skip, naming them, when those distributions are not installed.

    The isolation session runs tests/core with the core alone; a core test that drives a plugin end to end says so.
    """
    from importlib.metadata import PackageNotFoundError, distribution

    for marker in item.iter_markers("plugin"):
        missing = []
        for name in marker.args:
            try:
                distribution(name)
            except PackageNotFoundError:
                missing.append(name)
        if missing:
            pytest.skip(f"needs {', '.join(missing)} installed beside pylantir-core")


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


PylantirRunner = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture
def pylantir_cli() -> PylantirRunner:
    """Run the installed ``pylantir`` console script as a process: ``pylantir_cli("sync", "--config", p, cwd=...)``.

    Returns the completed process (never raises on a non-zero exit); ``env`` entries are added to this
    process's environment (``None`` removes one).
    """
    script = Path(sys.executable).with_name("pylantir")

    def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str | None] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        environment = dict(os.environ)
        for key, value in (env or {}).items():
            if value is None:
                environment.pop(key, None)
            else:
                environment[key] = value
        return subprocess.run([str(script), *map(str, args)], capture_output=True, text=True, cwd=cwd,
                              env=environment, timeout=timeout, check=False)

    return run


class Modality:
    """A modality's MPPS to a server on 127.0.0.1, through :mod:`pylantir.dicom.client`: :meth:`start`
    (N-CREATE IN PROGRESS, started 2026-01-05 10:15) and :meth:`end` (N-SET, ended 10:45, one series)."""

    def __init__(self, port: int, ae_title: str = "MR1"):
        from pylantir.dicom.client import Peer

        self.peer = Peer("127.0.0.1", port, calling_ae=ae_title)

    def start(self, study_uid: str, modality: str = "MR") -> str:
        """N-CREATE for the exam of ``study_uid``; returns the MPPS SOP Instance UID."""
        from datetime import datetime

        from pylantir.dicom.client import mpps_in_progress

        return mpps_in_progress(self.peer, study_uid, modality, datetime(2026, 1, 5, 10, 15))

    def end(self, sop_uid: str, status: str = "COMPLETED") -> None:
        """N-SET ``status`` with the end date/time and one performed series."""
        from datetime import datetime

        from pylantir.dicom.client import mpps_final

        mpps_final(self.peer, sop_uid, status, "T1", datetime(2026, 1, 5, 10, 45))


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
