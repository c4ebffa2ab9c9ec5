"""``pylantir run`` syncs in a worker process of its own: a child of the run that leads the sources in the run's
name, whose syncs the run counts and answers for; replaced when it dies while the run goes on answering; gone
with the run, whether the run is stopped or killed."""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]

from pylantir.dicom.client import Peer, find

from ..dicom.test_run_logs import query
from .conftest import Site, running
from .test_metrics import samples, value
from .test_worklist_api import MAPPING, ROWS_PLUGIN, row


def site_with_rows(tmp_path: Path) -> tuple[Site, Path]:
    """A SQLite site with one source of two rows (synced hourly: later syncs are asked for), its plugins."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "rowsfile.py").write_text(ROWS_PLUGIN)
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps([row(1), row(2)]))
    site = Site(tmp_path, f"sqlite:///{tmp_path / 'site.sqlite'}")
    site.settings["data_sources"] = [{"name": "ris", "type": "rowsfile", "sync_interval": 3600,
                                      "config": {"path": str(rows)}, "field_mapping": MAPPING}]
    return site, plugins


def sync_worker(run_pid: int, not_pid: int | None = None, timeout: float = 30) -> psutil.Process:
    """The run's sync worker process (another than ``not_pid``), waited for."""
    deadline = time.monotonic() + timeout
    while True:
        workers = [child for child in psutil.Process(run_pid).children()
                   if "pylantir.sync.worker" in " ".join(child.cmdline()) and child.pid != not_pid]
        if workers:
            [worker] = workers
            return worker
        assert time.monotonic() < deadline, "the run has no sync worker process"
        time.sleep(0.05)


def ready(client: httpx.Client, timeout: float = 30) -> dict:
    """``/ready``'s body once it answers 200."""
    deadline = time.monotonic() + timeout
    while (answer := client.get("/ready")).status_code != 200:
        assert time.monotonic() < deadline, f"not ready: {answer.text}"
        time.sleep(0.05)
    body: dict = answer.json()
    return body


def test_a_killed_worker_is_replaced_while_the_run_answers_and_dies_with_a_killed_run(tmp_path: Path) -> None:
    site, plugins = site_with_rows(tmp_path)
    token = site.token("operator", "write")
    modality = Peer("127.0.0.1", site.dicom_port, timeout=10)
    with running(site, global_args=("--plugins-dir", str(plugins))) as server, site.client(token) as client:
        run_pid = server.process.pid
        first = sync_worker(run_pid)
        role = ready(client)["role"]
        assert role["instance"] == f"pid {run_pid} on {socket.gethostname()}" and role["leads"] == ["ris"]
        synced = client.post("/api/v1/sources/ris/sync", params={"wait": True}).json()
        assert synced["outcome"] in ("success", "unchanged") and synced["error"] is None

        first.send_signal(signal.SIGKILL)
        first.wait(10)
        answer = client.get("/ready")  # the new worker starts after a second
        assert answer.status_code == 503, answer.text
        assert any("sync worker process is not running (killed by SIGKILL)" in problem
                   for problem in answer.json()["reasons"]), answer.text
        assert len(find(modality, query())) == 2  # the run answers meanwhile

        second = sync_worker(run_pid, not_pid=first.pid)
        assert ready(client)["role"]["leads"] == ["ris"]
        synced = client.post("/api/v1/sources/ris/sync", params={"wait": True}).json()
        assert synced["outcome"] in ("success", "unchanged") and synced["error"] is None
        metrics = samples(client.get("/metrics").text)
        assert value(metrics, "pylantir_sync_worker_restarts_total") == 1
        synced_runs = sum(value(metrics, "pylantir_sync_runs_total", source="ris", outcome=outcome)
                          for outcome in ("success", "unchanged"))
        assert synced_runs >= 3  # the first worker's two syncs and the second's (counted by the run)

        server.process.kill()
        server.process.wait(10)
        gone, _ = psutil.wait_procs([second], timeout=10)
        assert gone, "the sync worker outlived the killed run"
    assert f"the sync worker process (pid {first.pid}) ended (killed by SIGKILL); starting a new one" in server.stderr


def test_the_worker_stops_with_the_run(tmp_path: Path) -> None:
    site, plugins = site_with_rows(tmp_path)
    with running(site, global_args=("--plugins-dir", str(plugins))) as server, site.client() as client:
        worker = sync_worker(server.process.pid)
        ready(client)
    assert server.returncode == 0, server.stderr
    assert not worker.is_running()
    assert "sync worker process started" in server.stderr and "Traceback" not in server.stderr
