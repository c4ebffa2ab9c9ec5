"""``/ready``: 503 with the reason when an enabled source has not synced within 3 intervals (a real failing
source in a real ``pylantir run``), when the database is unreachable (PostgreSQL dropped under a running
process), when the DICOM server is not listening; ``/health`` stays 200 meanwhile."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pylantir.config import PylantirConfig
from pylantir.dicom import start_server
from pylantir.http import create_app, start_http
from pylantir.store import Database

from .conftest import Site, running

#: A source plugin file whose fetch fails while the file ``down`` exists next to it.
FLAKY_PLUGIN = '''
from pathlib import Path
from pylantir import SourceError, SourceType, hookimpl

@hookimpl
def source_types():
    return [SourceType("flaky", "fails while its switch file exists")]

@hookimpl
def fetch_entries(config):
    if Path(config["switch"]).exists():
        raise SourceError("the scheduling system answers 502 Bad Gateway")
    return iter(())
'''


def wait_for(client: httpx.Client, path: str, status: int, timeout: float = 20) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while (answer := client.get(path)).status_code != status:
        assert time.monotonic() < deadline, f"{path} stayed {answer.status_code}: {answer.text}"
        time.sleep(0.1)
    return answer


def flaky_site(site: Site, tmp_path: Path) -> tuple[Path, Path]:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "flaky.py").write_text(FLAKY_PLUGIN)
    switch = tmp_path / "down"
    site.settings["data_sources"] = [{"name": "ris", "type": "flaky", "sync_interval": 0.5,
                                      "config": {"switch": str(switch)}}]
    return plugins, switch


def test_a_source_that_stops_syncing_makes_the_instance_unready(site: Site, tmp_path: Path) -> None:
    plugins, switch = flaky_site(site, tmp_path)
    with running(site, global_args=("--plugins-dir", str(plugins))), site.client() as client:
        wait_for(client, "/ready", 200)
        switch.touch()
        answer = wait_for(client, "/ready", 503)
        [reason] = answer.json()["reasons"]
        assert reason.startswith("source 'ris' has not synced successfully within 3 intervals (1.5 s; last success ")
        assert client.get("/health").status_code == 200
        switch.unlink()
        wait_for(client, "/ready", 200)


def test_a_source_that_never_synced_is_judged_from_the_start(site: Site, tmp_path: Path) -> None:
    plugins, switch = flaky_site(site, tmp_path)
    switch.touch()
    with running(site, global_args=("--plugins-dir", str(plugins))), site.client() as client:
        answer = wait_for(client, "/ready", 503)
        reasons = answer.json()["reasons"]
        assert "source 'ris' has not synced successfully within 3 intervals (1.5 s; never synced)" in reasons


def test_an_unreachable_database_makes_the_instance_unready(tmp_path: Path, postgres_url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    # the server trusts loopback, so a password is accepted and ignored: it must never be shown
    with_password = make_url(postgres_url).set(password="hunter2-secret").render_as_string(hide_password=False)
    site = Site(tmp_path, with_password)
    with running(site, "--no-sync"), site.client() as client:
        assert client.get("/ready").status_code == 200
        name = make_url(postgres_url).database
        admin = create_engine(make_url(postgres_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
        answer = wait_for(client, "/ready", 503)
        [reason] = answer.json()["reasons"]
        assert reason.startswith("database unreachable (postgresql+psycopg2://postgres:***@127.0.0.1")
        assert "does not exist" in reason and "hunter2-secret" not in answer.text
        assert client.get("/health").status_code == 200


@pytest.fixture
def in_process(tmp_path: Path) -> Iterator[tuple[Database, PylantirConfig]]:
    database = Database.open(f"sqlite:///{tmp_path / 'w.sqlite'}")
    yield database, PylantirConfig.model_validate({"http": {"port": 0}})
    database.close()


def test_a_dicom_server_that_stopped_listening_makes_the_instance_unready(
    in_process: tuple[Database, PylantirConfig],
) -> None:
    database, config = in_process
    dicom = start_server(config, database, port=0)
    http = start_http(create_app(config, database, dicom=dicom), config.http)
    try:
        with httpx.Client(base_url=http.url) as client:
            ready = client.get("/ready").json()
            assert (ready["status"], ready["reasons"]) == ("ready", [])
            assert ready["role"] == {"deployment": "single-instance", "syncs": False, "leads": [], "follows": [],
                                     "instance": f"pid {os.getpid()} on {os.uname().nodename}"}
            dicom.shutdown()
            answer = client.get("/ready")
            assert answer.status_code == 503
            assert answer.json()["reasons"] == [f"DICOM port 127.0.0.1:{dicom.port} is not bound"]
    finally:
        http.shutdown()
        dicom.shutdown()


def test_health_and_ready_need_a_credential_unless_open(in_process: tuple[Database, PylantirConfig]) -> None:
    database, _ = in_process
    config = PylantirConfig.model_validate({"http": {"port": 0, "open_endpoints": []}})
    http = start_http(create_app(config, database), config.http)
    try:
        with httpx.Client(base_url=http.url) as client:
            assert client.get("/health").status_code == 401
            assert client.get("/ready").status_code == 401
    finally:
        http.shutdown()
