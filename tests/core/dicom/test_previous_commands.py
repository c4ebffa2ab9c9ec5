"""The previous Pylantir's command line: ``start``, ``query-db``, ``test-client`` and ``test-mpps``, run as a site
runs them (a real ``pylantir start`` process, a previous-format configuration file, real associations)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from pydicom.uid import generate_uid

from pylantir.dicom.client import Peer, find, worklist_identifier
from pylantir.store import Database, WorklistItem

from .conftest import PYLANTIR, free_port, serving

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def previous_config(tmp_path: Path, db_path: Path) -> Path:
    """A configuration file of the previous Pylantir 0.4.x (``data_sources`` with none configured)."""
    path = tmp_path / "mwl_config.json"
    path.write_text(json.dumps({"db_path": str(db_path), "db_echo": "False", "allowed_aet": [],
                                "data_sources": []}))
    return path


def one_item(database: Database, study_uid: str) -> None:
    with database.session() as session:
        session.add(WorklistItem(
            identity="test:1", source_name="test", content_hash="x", patient_id="SUB001",
            patient_name="Doe^Jane", study_instance_uid=study_uid, modality="MR",
            scheduled_start_date="20300105", scheduled_start_time="100000", scheduled_start="20300105100000",
        ))


def status_of(database: Database) -> str:
    with database.session() as session:
        [item] = session.query(WorklistItem).all()
        return item.scheduled_procedure_step_status


def pylantir(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PYLANTIR, *args], check=False, capture_output=True, text=True, timeout=60)


@SQLITE_ONLY
def test_start_serves_echo_and_find_and_the_test_commands_work(tmp_path: Path, database: Database,
                                                                 sqlite_url: str) -> None:
    """``pylantir start --ip --port --AEtitle --pylantir_config`` answers C-ECHO and C-FIND; ``test-client``
    finds the item, ``test-mpps`` creates and completes its MPPS, ``query-db`` lists it COMPLETED."""
    database.upgrade()
    study_uid = generate_uid()
    one_item(database, study_uid)
    config = previous_config(tmp_path, Path(sqlite_url.removeprefix("sqlite:///")))
    port = free_port()
    start = ["start", "--ip", "127.0.0.1", "--port", str(port), "--AEtitle", "MWL_X", "--pylantir_config", str(config)]
    peer = Peer("127.0.0.1", port, called_ae="MWL_X", timeout=5)
    with serving(start, peer) as server:
        [found] = find(peer, worklist_identifier())
        assert found.PatientID == "SUB001"

        client = pylantir("test-client", "--ip", "127.0.0.1", "--port", str(port), "--AEtitle", "MWL_X")
        assert client.returncode == 0, client.stderr
        assert "SUB001" in client.stdout
        assert f"now spelt: pylantir find 127.0.0.1 {port} --called-ae MWL_X" in client.stderr

        mpps = ["test-mpps", "--ip", "127.0.0.1", "--port", str(port), "--AEtitle", "MWL_X"]
        created = pylantir(*mpps, "--mpps_action", "create", "--study_uid", study_uid)
        assert created.returncode == 0, created.stderr
        [sop_uid] = re.findall(r"SOP Instance UID (\S+)", created.stdout)
        assert status_of(database) == "STARTED"
        done = pylantir(*mpps, "--mpps_action", "set", "--mpps_status", "COMPLETED", "--sop_uid", sop_uid)
        assert done.returncode == 0, done.stderr
        assert status_of(database) == "COMPLETED"
    assert server.returncode == 0, server.stderr
    [spelling] = [line for line in server.stderr.splitlines() if "previous Pylantir's command" in line]
    assert spelling.endswith(f"now spelt: pylantir run --config {config} --host 127.0.0.1 --port {port} "
                             "--ae-title MWL_X")
    assert "MWL_X" in server.stderr and f"port {port}" in server.stderr

    listed = pylantir("query-db", "--pylantir_config", str(config))
    assert listed.returncode == 0, listed.stderr
    assert "SUB001" in listed.stdout and "COMPLETED" in listed.stdout


def test_test_mpps_names_what_each_action_needs() -> None:
    """``set`` without ``--sop_uid`` (or ``create`` without ``--study_uid``) is a usage error, not a traceback."""
    port = str(free_port())
    missing = pylantir("test-mpps", "--port", port, "--mpps_action", "set", "--mpps_status", "COMPLETED")
    assert missing.returncode == 2 and "--sop_uid" in missing.stderr
    no_study = pylantir("test-mpps", "--port", port, "--mpps_action", "create")
    assert no_study.returncode == 2 and "--study_uid" in no_study.stderr


def test_test_client_against_nothing_says_so() -> None:
    """Nothing listening: one line naming the address, exit 1."""
    port = free_port()
    result = pylantir("test-client", "--port", str(port))
    assert result.returncode == 1
    assert f"connection refused: is a server listening on 127.0.0.1:{port}?" in result.stderr
