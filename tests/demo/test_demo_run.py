"""The demo as a newcomer runs it: generate the data, `pylantir run` the demo config, query it, Ctrl+C."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from pylantir.dicom.client import DicomClientError, Peer, find, worklist_identifier

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
TODAYS_PATIENTS = ["DEMO^ALICE", "DEMO^BOB", "DEMO^CAROL", "DEMO^DAVID", "DEMO^GRACE", "DEMO^HEIDI", "DEMO^IVAN"]
START_TIMEOUT = 60.0

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def todays_names(port: int) -> list[str]:
    found = find(Peer("127.0.0.1", port, timeout=5), worklist_identifier(date=date.today().strftime("%Y%m%d")))
    return sorted(str(identifier.PatientName) for identifier in found)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, int]]:
    """The README's demo commands in a fresh working directory; the server is killed if a test fails early."""
    subprocess.run([sys.executable, str(DEMO / "make_demo_data.py")], cwd=tmp_path, check=True, capture_output=True)
    port = free_port()
    command = [sys.executable, "-m", "pylantir", "run", "--config", "config.json", "--port", str(port)]
    server = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield server, port
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def wait_for_worklist(server: subprocess.Popen, port: int) -> list[str]:
    """Poll with C-FIND until both sources have synced (the server answers before the first sync ends)."""
    deadline = time.monotonic() + START_TIMEOUT
    names: list[str] = []
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"pylantir run exited with {server.returncode}:\n{server.stdout.read()}")
        try:
            names = todays_names(port)
        except DicomClientError:
            names = []
        if names == TODAYS_PATIENTS:
            return names
        time.sleep(0.3)
    return names


def test_the_demo_starts_answers_todays_worklist_and_stops_cleanly(demo: tuple[subprocess.Popen, int]):
    server, port = demo
    assert wait_for_worklist(server, port) == TODAYS_PATIENTS

    listed = subprocess.run(
        [sys.executable, "-m", "pylantir", "find", "127.0.0.1", str(port), "--date", "today", "--json"],
        capture_output=True, text=True, check=True,
    )
    assert sorted(item["PatientName"] for item in json.loads(listed.stdout)) == TODAYS_PATIENTS

    server.send_signal(signal.SIGINT)
    assert server.wait(timeout=30) == 0


@pytest.mark.dcmtk
def test_the_demo_answers_dcmtk_findscu(demo: tuple[subprocess.Popen, int], dcmtk):
    server, port = demo
    assert wait_for_worklist(server, port) == TODAYS_PATIENTS
    today = date.today().strftime("%Y%m%d")
    answered = dcmtk(
        "findscu", "-W", "-aec", "PYLANTIR", "-k", "PatientName",
        "-k", f"ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate={today}",
        "-k", "ScheduledProcedureStepSequence[0].Modality=MR", "127.0.0.1", str(port), timeout=30,
    )
    assert answered.returncode == 0, answered.stderr
    output = answered.stderr + answered.stdout
    mr_today = ["DEMO^ALICE", "DEMO^BOB", "DEMO^DAVID", "DEMO^GRACE", "DEMO^HEIDI"]
    assert sorted(re.findall(r"PN \[(DEMO\^\w+)\]", output)) == mr_today  # not DEMO^CAROL (CT)
