"""Performed-step write-back to REDCap: a real ``pylantir run``, MPPS over real associations, the fake REDCap
(HTTP boundary only) receiving the imports; the fields checked against the data dictionary at sources check."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from pylantir.cli.main import cli
from pylantir.store import Database, WorklistItem, WriteBackChange
from pylantir.testing import (
    PylantirProcess,
    check_write_back_contract,
    free_port,
    running_pylantir,
    step_change,
)

from .conftest import FakeProject, FakeRedcap, field_def

MAPPING = {
    "patient_id": {"template": "p{record_id}"},
    "study_id": "patient_name",
    "mri_date": "scheduled_start_date",
    "mri_time": "scheduled_start_time",
    "modality": {"value": "MR"},
}
STATUS_CODES = "0, Scheduled | 1, Scanning | 2, Scanned | 3, Stopped"
WRITE_BACK = {"status_field": "mri_status", "status_values": {"STARTED": "1", "COMPLETED": "2", "DISCONTINUED": "3"},
              "started_field": "mri_started", "ended_field": "mri_ended", "station_field": "mri_station"}


def _text(name: str, form: str, validation: str = "") -> dict[str, str]:
    return {**field_def(name, form), "text_validation_type_or_show_slider_number": validation}


def scan_project() -> FakeProject:
    """A longitudinal project with a repeating ``mri`` instrument holding the schedule and the scan's status."""
    metadata = [
        field_def("record_id", "enrolment"), field_def("study_id", "enrolment"),
        _text("mri_date", "mri", "date_ymd"), _text("mri_time", "mri", "time"),
        field_def("mri_status", "mri", "radio", STATUS_CODES),
        _text("mri_started", "mri", "datetime_seconds_ymd"), _text("mri_ended", "mri", "datetime_ymd"),
        _text("mri_station", "mri"),
    ]
    today = date.today().isoformat()
    blank = {"redcap_repeat_instrument": "", "redcap_repeat_instance": ""}
    rows = [
        {"record_id": "1", "redcap_event_name": "t1_arm_1", **blank, "study_id": "CPIP-1001"},
        {"record_id": "1", "redcap_event_name": "t2_arm_1", **blank},
        {"record_id": "1", "redcap_event_name": "t2_arm_1", "redcap_repeat_instrument": "mri",
         "redcap_repeat_instance": 2, "mri_date": today, "mri_time": "09:30", "mri_status": "0"},
        {"record_id": "2", "redcap_event_name": "t1_arm_1", **blank, "study_id": "CPIP-1002"},
        {"record_id": "2", "redcap_event_name": "t1_arm_1", "redcap_repeat_instrument": "mri",
         "redcap_repeat_instance": 1, "mri_date": today, "mri_time": "11:00", "mri_status": "0"},
    ]
    return FakeProject(metadata, rows, events=["t1_arm_1", "t2_arm_1"], repeating=True)


#: What the scan of record 1, event t2_arm_1, mri instance 2 (started 10:15:00, completed 10:45) imports.
COMPLETED_IMPORT = {
    "record_id": "1", "redcap_event_name": "t2_arm_1", "redcap_repeat_instrument": "mri",
    "redcap_repeat_instance": 2, "mri_status": "2", "mri_started": "2026-01-05 10:15:00",
    "mri_ended": "2026-01-05 10:45", "mri_station": "MR1",
}


def _config(tmp_path: Path, port: int, write_back: dict[str, Any] | None = None) -> tuple[Path, str]:
    url = f"sqlite:///{tmp_path / 'site.sqlite'}"
    source: dict[str, Any] = {"name": "study", "type": "redcap", "sync_interval": 3600, "field_mapping": MAPPING,
                              "config": {"repeat_instrument": "mri", "require_fields": ["mri_date"]}}
    if write_back is not None:
        source["write_back"] = write_back
    path = tmp_path / "pylantir.json"
    path.write_text(json.dumps({"database_url": url, "server": {"port": port}, "housekeeping": {"enabled": False},
                                "data_sources": [source]}))
    return path, url


def _fast_retries(config: dict[str, Any] = WRITE_BACK) -> dict[str, Any]:
    return {"config": config, "first_retry_seconds": 0.05, "max_retry_seconds": 0.2}


def _items(database: Database) -> dict[str, WorklistItem]:
    with database.session() as session:
        return {item.patient_id: item for item in session.scalars(select(WorklistItem))}


def _outbox(database: Database) -> list[WriteBackChange]:
    with database.session() as session:
        return list(session.scalars(select(WriteBackChange).order_by(WriteBackChange.id)))


@contextmanager
def _scanned(tmp_path: Path, modality: Callable[..., Any],
             wait_until: Callable[..., None]) -> Iterator[tuple[PylantirProcess, Database, Path]]:
    """A real ``pylantir run`` writing back to the fake REDCap, once record 1's scan is performed over MPPS."""
    port = free_port()
    config, url = _config(tmp_path, port, _fast_retries())
    database = Database.open(url)
    try:
        with running_pylantir(["run", "--no-http", "--config", str(config)], port, env=os.environ) as run:
            wait_until(lambda: len(_items(database)) == 2, what="the first sync")
            scanner = modality(port)
            scanner.end(scanner.start(_items(database)["p1"].study_instance_uid))
            yield run, database, config
    finally:
        database.close()


def _instance(server: FakeRedcap, record: str, instance: int) -> dict[str, Any]:
    return next(row for row in server.project.rows
                if row["record_id"] == record and row.get("redcap_repeat_instance") == instance)


def test_write_back_imports_the_completed_scan_into_its_record_event_and_instance(
        serve: Callable[[FakeProject], FakeRedcap], tmp_path: Path, modality: Callable[..., Any],
        wait_until: Callable[..., None]) -> None:
    server = serve(scan_project())
    with _scanned(tmp_path, modality, wait_until) as (run, database, _config_path):
        wait_until(lambda: _outbox(database) and _outbox(database)[-1].state == "done", what="the write-back")
    assert run.returncode == 0, run.stderr
    assert server.imported[-1] == [COMPLETED_IMPORT]
    assert all(row[0]["mri_status"] in ("1", "2") and row[0]["redcap_repeat_instance"] == 2
               for row in server.imported), "only record 1's instance 2 is written"
    assert _instance(server, "1", 2)["mri_status"] == "2"
    assert _instance(server, "2", 1)["mri_status"] == "0", "the other scheduled scan is left alone"
    assert "CPIP" not in run.stderr


def test_five_failures_then_recovery_still_writes_exactly_the_final_state(
        serve: Callable[[FakeProject], FakeRedcap], tmp_path: Path, modality: Callable[..., Any],
        wait_until: Callable[..., None]) -> None:
    server = serve(scan_project())
    server.failures = 5
    with _scanned(tmp_path, modality, wait_until) as (run, database, config):
        wait_until(lambda: _outbox(database)[-1].state == "done", what="the write-back after the failures")
        status = CliRunner().invoke(cli, ["sources", "status", "--config", str(config), "--json"])
        outbox = _outbox(database)
    assert server.failures == 0
    assert server.imported[-1] == [COMPLETED_IMPORT], "the final state, once, after the outage"
    assert [rows[0]["mri_status"] for rows in server.imported] in (["2"], ["1", "2"])
    assert _instance(server, "1", 2) | COMPLETED_IMPORT == _instance(server, "1", 2)
    assert outbox[-1].attempts >= 2 and outbox[-1].change["status"] == "COMPLETED"
    assert {row.state for row in outbox[:-1]} <= {"superseded", "done"}
    counts = json.loads(status.output)[0]["write_back"]
    assert (counts["pending"], counts["failed"], counts["done"]) == (0, 0, 1 + (len(server.imported) == 2))
    assert "write-back to source 'study'" in run.stderr and "to retry" in run.stderr


def test_a_token_without_import_rights_fails_the_change_for_good_and_status_shows_it(
        serve: Callable[[FakeProject], FakeRedcap], tmp_path: Path, modality: Callable[..., Any],
        wait_until: Callable[..., None]) -> None:
    server = serve(scan_project())
    server.import_rights = False
    with _scanned(tmp_path, modality, wait_until) as (_run, database, config):
        wait_until(lambda: _outbox(database)[-1].state == "failed", what="the failure")
        # the STARTED change failed too if it was tried before the N-SET came, else the N-SET superseded it
        failed = sum(change.state == "failed" for change in _outbox(database))
    result = CliRunner().invoke(cli, ["sources", "status", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert f"0 pending, {failed} failed, 0 written" in " ".join(result.output.split())
    assert "write-back failed for good" in result.output and "refused the API token" in result.output
    assert server.imported == []


def test_check_write_back_reads_the_data_dictionary_and_the_import_right_at_sources_check(
        serve: Callable[[FakeProject], FakeRedcap], tmp_path: Path) -> None:
    server = serve(scan_project())
    broken = {"status_field": "mri_status", "started_field": "mri_begun", "station_field": "mri_date"}
    config, _url = _config(tmp_path, free_port(), {"config": broken})
    server.import_rights = False
    result = CliRunner().invoke(cli, ["sources", "check", "--config", str(config), "--fetch", "--json"])
    assert result.exit_code == 1
    problems = {p["path"]: p["message"] for p in json.loads(result.output)[0]["problems"]}
    assert problems["write_back.config.status_values"].startswith("field mri_status is a radio field: give the code")
    assert "0, 1, 2, 3" in problems["write_back.config.status_values"]
    assert problems["write_back.config.started_field"] == "the project has no field mri_begun"
    assert problems["write_back.config.station_field"] == "field mri_date is not a plain text field"
    assert "cannot import records" in problems["write_back.config"]
    assert "API Import/Update" in problems["write_back.config"]


def test_a_good_write_back_config_passes_sources_check(serve: Callable[[FakeProject], FakeRedcap],
                                                       tmp_path: Path) -> None:
    serve(scan_project())
    config, _url = _config(tmp_path, free_port(), {"config": WRITE_BACK})
    result = CliRunner().invoke(cli, ["sources", "check", "--config", str(config), "--fetch"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("settings", "path", "message"), [
    ({}, "status_field", "required"),
    ({"status_field": "Mri Status"}, "status_field", "String should match pattern"),
    ({"status_field": "s", "status_values": {"FINISHED": "2"}}, "status_values.FINISHED.[key]",
     "Input should be 'STARTED', 'COMPLETED' or 'DISCONTINUED'"),
    ({"status_field": "s", "ended_field": "s"}, "ended_field", "field s is already status_field"),
])
def test_validate_write_back_of_redcap_names_the_key(registry: Any, settings: dict[str, Any], path: str,
                                                     message: str) -> None:
    problems = registry.validate_write_back("redcap", {}, settings)
    assert [problem.path for problem in problems] == [path]
    assert message in problems[0].message


def test_write_back_contract_of_the_redcap_plugin(serve: Callable[[FakeProject], FakeRedcap], registry: Any) -> None:
    server = serve(scan_project())
    changes = [step_change({"record": "2", "event": "t1_arm_1", "repeat_instrument": "mri", "repeat_instance": 1},
                           "DISCONTINUED", 1),
               step_change({"record": "9", "event": "t1_arm_1"}, "COMPLETED", 2)]
    results = check_write_back_contract(registry, "redcap", {}, WRITE_BACK, changes)
    assert [result.outcome for result in results] == ["done", "failed"]
    assert "no longer exists in REDCap" in results[1].message
    assert _instance(server, "2", 1)["mri_status"] == "3"
    assert not any(row["record_id"] == "9" for row in server.project.rows), "a deleted record is not created again"


def test_a_value_redcap_refuses_fails_that_change_only(serve: Callable[[FakeProject], FakeRedcap],
                                                       registry: Any) -> None:
    server = serve(scan_project())
    wrong = {**WRITE_BACK, "status_values": {"COMPLETED": "2", "DISCONTINUED": "9"}}
    changes = [step_change({"record": "2", "event": "t1_arm_1", "repeat_instrument": "mri", "repeat_instance": 1},
                           "DISCONTINUED", 1),
               step_change({"record": "1", "event": "t2_arm_1", "repeat_instrument": "mri", "repeat_instance": 2},
                           "COMPLETED", 2)]
    results = registry.write_back("redcap", "study", {}, wrong, changes)
    assert (results[1].outcome, results[2].outcome) == ("failed", "done")
    assert "not a valid category" in results[1].message
    assert _instance(server, "1", 2)["mri_status"] == "2"
    assert _instance(server, "2", 1)["mri_status"] == "0"
