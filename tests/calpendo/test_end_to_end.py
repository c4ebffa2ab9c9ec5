"""The site's path: `pylantir sync` and `pylantir run` as processes, from the fake Calpendo into SQLite, then
C-FIND over real associations; at -vv no output ever holds a credential."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pylantir.dicom.client import DicomClientError, Peer, find, worklist_identifier

USER, PASSWORD = "mwl-reader", "Pw-9f3c1e77aa-never-logged"
ZONE = ZoneInfo("America/Edmonton")
PYLANTIR = str(Path(sys.executable).with_name("pylantir"))
SECRETS = (PASSWORD, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def site(serve, config_for, mapping, tmp_path):
    """A fake Calpendo with three bookings (one cancelled), and a config file reading it."""
    server = serve()
    soon = datetime.now(ZONE).replace(second=0, microsecond=0) + timedelta(minutes=30)
    server.add("SUB001_Jane^Doe", soon, operator="Tech Smith")
    server.add("SUB002_John^Roe", soon + timedelta(hours=2), resource="EEG Lab", biskit_type="EEGScan")
    server.add("SUB003_Gone^Away", soon + timedelta(hours=1), status="Cancelled")
    config = tmp_path / "pylantir.json"
    config.write_text(json.dumps({
        "database_url": f"sqlite:///{tmp_path / 'worklist.sqlite'}",
        "timezone": "America/Edmonton",
        "data_sources": [{
            "name": "scanners", "type": "calpendo", "field_mapping": mapping, "sync_interval": 1,
            "config": config_for(server, resources=["3T Diagnostic", "EEG Lab"], status_filter="Approved",
                                 resource_modality_mapping={"3T": "MR", "EEG": "EEG"}),
        }],
    }), encoding="utf-8")
    return server, config, soon


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYLANTIR, "-vv", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "CALPENDO_USERNAME": USER, "CALPENDO_PASSWORD": PASSWORD})


def _assert_no_secret(*outputs: str) -> None:
    for output in outputs:
        assert not any(secret in output for secret in SECRETS)


def _worklist(port: int, soon: datetime) -> list[tuple[str, str, str]]:
    dates = f"{soon:%Y%m%d}-{soon + timedelta(days=1):%Y%m%d}"
    found = find(Peer("127.0.0.1", port, timeout=5), worklist_identifier(date=dates))
    return sorted((str(i.PatientName), i.AccessionNumber, i.ScheduledProcedureStepSequence[0].Modality)
                  for i in found)


def test_sync_lands_the_bookings_and_run_serves_them(site, tmp_path):
    server, config, soon = site
    checked = _run("config", "check", str(config))
    assert checked.returncode == 0, checked.stderr
    synced = _run("sync", "--config", str(config))
    assert synced.returncode == 0, synced.stderr
    assert "urllib3" in synced.stderr  # -vv really showed the HTTP client's debug log
    listed = _run("worklist", "list", "--config", str(config), "--json")
    assert sorted(i["patient_id"] for i in json.loads(listed.stdout)) == ["SUB001", "SUB002"]
    jane = next(b for b in server.bookings.values() if b.title.startswith("SUB001"))
    jane.title = "SUB001_Janet^Doe"  # renamed in Calpendo: `run` syncs it onto the same entry

    port, log = _free_port(), tmp_path / "run.log"  # a file: -vv fills a pipe nobody reads meanwhile
    with log.open("w") as output:
        process = subprocess.Popen([PYLANTIR, "-vv", "run", "--config", str(config), "--port", str(port), "--no-http"],
                                   stdout=output, stderr=subprocess.STDOUT, text=True,
                                   env={**os.environ, "CALPENDO_USERNAME": USER, "CALPENDO_PASSWORD": PASSWORD})
    try:
        answered: list[tuple[str, str, str]] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                answered = _worklist(port, soon)
            except DicomClientError:
                answered = []
            if answered and answered[0][0] == "Janet^Doe":
                break
            time.sleep(0.2)
        ids = {b.title.split("_")[0]: str(b.id) for b in server.bookings.values()}
        assert answered == [("Janet^Doe", ids["SUB001"], "MR"), ("John^Roe", ids["SUB002"], "EEG")]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    logged = log.read_text()
    assert process.returncode == 0, logged
    assert "pynetdicom" in logged and "urllib3" in logged
    _assert_no_secret(checked.stdout, checked.stderr, synced.stdout, synced.stderr, listed.stdout, logged)


def test_a_refused_password_fails_the_sync_clearly_without_showing_it(site):
    _, config, _ = site
    wrong = {**os.environ, "CALPENDO_USERNAME": USER, "CALPENDO_PASSWORD": PASSWORD + "x"}
    failed = subprocess.run([PYLANTIR, "-vv", "sync", "--config", str(config)], capture_output=True, text=True,
                            timeout=120, env=wrong)
    assert failed.returncode == 1
    assert "source 'scanners' failed: source 'scanners' (Calpendo): querying bookings: " in failed.stderr
    assert "(HTTP 401); check both" in failed.stderr
    assert "Traceback" not in failed.stderr
    _assert_no_secret(failed.stdout, failed.stderr)
    assert PASSWORD + "x" not in failed.stdout + failed.stderr
    fetched = _run("sources", "check", "--config", str(config), "--fetch")
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    _assert_no_secret(fetched.stdout, fetched.stderr)


@pytest.mark.dcmtk
def test_dcmtk_findscu_sees_the_bookings(site, dcmtk):
    _, config, soon = site
    assert _run("sync", "--config", str(config)).returncode == 0
    port = _free_port()
    process = subprocess.Popen(
        [PYLANTIR, "run", "--config", str(config), "--port", str(port), "--no-sync", "--no-http"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                _worklist(port, soon)
                break
            except DicomClientError:
                time.sleep(0.2)
        answered = dcmtk("findscu", "-W", "-aec", "PYLANTIR", "-k", "PatientName", "-k", "AccessionNumber",
                         "-k", "ScheduledProcedureStepSequence[0].Modality=MR", "127.0.0.1", str(port), timeout=30)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert answered.returncode == 0, answered.stderr
    assert "Jane^Doe" in answered.stdout + answered.stderr and "John^Roe" not in answered.stdout + answered.stderr
