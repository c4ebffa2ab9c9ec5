"""Databases written by the previous Pylantir 0.4.6 and 0.3.6 (``data/*.sqlite``, see ``make_databases.py``),
upgraded by ``pylantir db upgrade`` and synced from the same REDCap / Calpendo data: every row imported, no
duplicate, the statuses scanners set kept."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

PYLANTIR = str(Path(sys.executable).with_name("pylantir"))
DATA = Path(__file__).parent / "data"
COMPLETED_EXAM = "sub_1001_ses_1_fam_501_site_792"


def site(kit: Any, http_servers: Any, tmp_path: Path, name: str) -> tuple[Path, dict[str, str], Path, set[str]]:
    """The database ``name`` copied, its configuration pointing at fresh fakes serving the same records
    (today's dates: what moved is updated), and the environment; (config file, env, database, the dates
    (YYYYMMDD) the Calpendo bookings start on)."""
    database = tmp_path / f"{name}.sqlite"
    shutil.copyfile(DATA / f"{name}.sqlite", database)
    now = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    redcap = http_servers(kit.fake_redcap.FakeRedcap(kit.cpip_project(now)))
    text = (DATA / f"{name}.json").read_text(encoding="utf-8").replace("{db_path}", str(database))
    config = json.loads(text)
    booked_on: set[str] = set()
    for source in config.get("data_sources", []):
        if source["type"] == "calpendo":
            calpendo = http_servers(kit.fake_calpendo.FakeCalpendo("webdav", "UTC"))
            starts = kit.calpendo_bookings(calpendo, now.replace(tzinfo=UTC))  # the same IDs (1000, 1001)
            booked_on = {start.strftime("%Y%m%d") for start in starts}
            source["config"]["base_url"] = calpendo.url
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PYLANTIR_")}, **kit.credentials(redcap.url)}
    return path, env, database, booked_on


def pylantir(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([PYLANTIR, *args], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done


def worklist(database: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(database) as connection:
        connection.row_factory = sqlite3.Row
        return [dict(row) for row in connection.execute(
            "SELECT identity, source_name, patient_id, patient_name, scheduled_procedure_step_status AS status, "
            "status_from_mpps, scheduled_start_date, protocol_name FROM worklist_items ORDER BY id")]


def legacy_rows(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        return int(connection.execute("SELECT count(*) FROM legacy_worklist_items").fetchone()[0])


def test_a_0_4_6_database_is_imported_and_the_next_sync_matches_it(kit, http_servers, tmp_path):
    """0.4.6 with a REDCap exam COMPLETED and a Calpendo booking IN PROGRESS: after ``db upgrade`` every row
    is in the worklist with its source; after a sync of the same data there is no duplicate, the COMPLETED
    exam is COMPLETED and not offered by C-FIND, the others are, under our stable identities."""
    config, env, database, booked_on = site(kit, http_servers, tmp_path, "pylantir-0.4.6")
    upgraded = pylantir(env, "db", "upgrade", "--config", str(config))
    assert "imported 5 of the 5 rows" in upgraded.stderr and "cpip 3, scanners 2" in upgraded.stderr
    imported = worklist(database)
    assert Counter(item["source_name"] for item in imported) == {"cpip": 3, "scanners": 2}
    statuses = {item["patient_id"]: item["status"] for item in imported}
    assert statuses == {COMPLETED_EXAM: "COMPLETED", "sub_1001_ses_2_fam_501_site_792": "SCHEDULED",
                        "sub_ng_1002_ses_1_fam_502_site_792": "SCHEDULED", "SUB001": "STARTED",
                        "SUB002": "SCHEDULED"}
    info = pylantir(env, "db", "info", "--config", str(config)).stdout
    assert "imported 5 of the 5 rows of legacy_worklist_items" in info and "5 awaiting" in info

    synced = pylantir(env, "sync", "--config", str(config))
    after = worklist(database)
    assert len(after) == 5, synced.stderr
    assert Counter(item["patient_id"] for item in after) == Counter(set(statuses)), "a duplicate entry"
    assert {item["patient_id"]: item["status"] for item in after} == statuses
    assert not any(item["identity"].startswith("previous:") for item in after), "an entry its sync did not match"
    assert {item["scheduled_start_date"] for item in after if item["source_name"] == "scanners"} == booked_on
    assert "0 awaiting" in pylantir(env, "db", "info", "--config", str(config)).stdout
    again = pylantir(env, "db", "upgrade", "--config", str(config))
    assert "imported" not in again.stderr and len(worklist(database)) == 5  # once only
    assert legacy_rows(database) == 5  # the old table stays as a backup

    port = kit.free_port()
    found = find_with_a_running_server(env, config, port)
    # cpip shows today's exams only (mwl_days_ahead 0, as 0.4.6 did): not tomorrow's sub_ng_1002
    assert sorted(r["PatientID"] for r in found) == ["SUB001", "SUB002", "sub_1001_ses_2_fam_501_site_792"]


def find_with_a_running_server(env: dict[str, str], config: Path, port: int) -> list[dict[str, str]]:
    """``pylantir run --no-sync`` on ``config``, and a broad ``pylantir find`` against it (JSON)."""
    import signal
    import time

    server = subprocess.Popen([PYLANTIR, "run", "--config", str(config), "--no-sync", "--host", "127.0.0.1",
                               "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            echo = subprocess.run([PYLANTIR, "echo", "127.0.0.1", str(port), "--timeout", "2"], env=env,
                                  capture_output=True, text=True, timeout=60, check=False)
            if echo.returncode == 0:
                break
            assert server.poll() is None and time.monotonic() < deadline, "pylantir run did not serve"
            time.sleep(0.2)
        found = pylantir(env, "find", "127.0.0.1", str(port), "--json")
        return list(json.loads(found.stdout))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.communicate(timeout=30)
        finally:
            if server.poll() is None:
                server.kill()
                server.communicate()


@pytest.mark.parametrize("name", ["pylantir-0.3.6-legacy", "pylantir-0.3.6-data_sources"])
def test_a_0_3_6_database_is_imported_into_its_redcap_source(kit, http_servers, tmp_path, name):
    """0.3.6 tagged every REDCap row ``REDCap``: its rows go to the configured REDCap source (``redcap_legacy``
    for a ``redcap2wl`` file), COMPLETED and DISCONTINUED exams stay so through the next sync.

    0.3.6 did not prefix a neuro-PCP participant's study ID with ``ng_`` (0.4.x does, and so does the
    conversion): that SCHEDULED entry is replaced by the one with the 0.4.x ID, not doubled. The legacy file
    is imported by the first ``pylantir sync`` (before it syncs), the other by the first start of
    ``pylantir run``."""
    config, env, database, _ = site(kit, http_servers, tmp_path, name)
    before = {row["patient_id"].replace("sub_1002", "sub_ng_1002"): row["performed_procedure_step_status"]
              for row in kit.rows(DATA / f"{name}.sqlite")}
    if not name.endswith("legacy"):
        find_with_a_running_server(env, config, kit.free_port())
        assert len(worklist(database)) == 3
    synced = pylantir(env, "sync", "--config", str(config))
    assert ("imported 3 of the 3 rows" in synced.stderr) == name.endswith("legacy")
    after = worklist(database)
    source = "redcap_legacy" if name.endswith("legacy") else "cpip"
    assert {item["source_name"] for item in after} == {source}
    assert {item["patient_id"]: item["status"] for item in after} == before
    assert len(after) == len(before) == 3
    assert {item["patient_id"] for item in after if item["status_from_mpps"]} == {
        patient for patient, status in before.items() if status != "SCHEDULED"}


def test_without_the_plugin_of_a_source_the_import_waits(kit, http_servers, tmp_path):
    """A configured source whose plugin is disabled: nothing is imported (one error naming the source and
    the plugin), the old table is untouched, and once the plugin is back the import happens."""
    config, env, database, _ = site(kit, http_servers, tmp_path, "pylantir-0.4.6")
    disabled = {**env, "PYLANTIR_DISABLE_PLUGINS": "pylantir-calpendo"}
    refused = subprocess.run([PYLANTIR, "db", "upgrade", "--config", str(config)], capture_output=True, text=True,
                             env=disabled, timeout=120, check=False)
    assert refused.returncode == 1
    assert "not imported yet" in refused.stderr and "'scanners'" in refused.stderr
    assert worklist(database) == [] and legacy_rows(database) == 5
    assert "not imported yet" in pylantir(env, "db", "info", "--config", str(config)).stdout
    pylantir(env, "db", "upgrade", "--config", str(config))
    assert len(worklist(database)) == 5
