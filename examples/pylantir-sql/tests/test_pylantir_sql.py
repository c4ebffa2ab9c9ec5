"""Tests of pylantir-sql with Pylantir's plugin testing helpers, on a real SQLite database."""

import sqlite3
from datetime import date
from pathlib import Path

import pylantir_sql
import pytest

from pylantir import FetchState, SourceError
from pylantir.testing import check_source_contract, load_distribution, query_worklist, registered, sync_to_sqlite

FIELD_MAPPING = {
    "mrn": "patient_id",
    "patient": "patient_name",
    "exam_day": "scheduled_start_date",
    "exam_time": "scheduled_start_time",
    "modality": "modality",
    "accession": "accession_number",
}
CONFIG = {"url_env": "RIS_DATABASE_URL", "table": "exams"}


@pytest.fixture(autouse=True)
def ris_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A RIS-like SQLite database with two exams today (one CT, one MR); its URL in RIS_DATABASE_URL."""
    path = tmp_path / "ris.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE exams (mrn TEXT, patient TEXT, exam_day DATE, exam_time TEXT, modality TEXT, accession TEXT)"
        )
        connection.executemany(
            "INSERT INTO exams VALUES (?, ?, ?, ?, ?, ?)",
            [
                ("RIS001", "Doe, Jane", date.today().isoformat(), "08:15", "MR", "A1001"),
                ("RIS002", "Roe, Richard", date.today().isoformat(), "10:45", "CT", "A1002"),
            ],
        )
    monkeypatch.setenv("RIS_DATABASE_URL", f"sqlite:///{path}")
    return path


def test_installed_entry_point_loads() -> None:
    registry, info = load_distribution("pylantir-sql")
    assert registry.owner("sql") is info


def test_source_contract() -> None:
    with registered(pylantir_sql) as (registry, _):
        entries = check_source_contract(
            registry,
            "sql",
            good_config=CONFIG,
            bad_configs={
                "url_env": {"table": "exams"},
                "table": {"url_env": "RIS_DATABASE_URL", "table": 3},
                "": {"url_env": "RIS_DATABASE_URL"},
                "colour": {**CONFIG, "colour": "red"},
            },
            field_mapping=FIELD_MAPPING,
            failing_config={"url_env": "RIS_DATABASE_URL", "table": "no_such_table"},
        )
    assert sorted(entry["patient_id"] for entry in entries) == ["RIS001", "RIS002"]


def test_query_and_missing_column(ris_database: Path) -> None:
    query = {"url_env": "RIS_DATABASE_URL", "query": "SELECT * FROM exams WHERE modality = 'MR'"}
    with registered(pylantir_sql) as (registry, _):
        rows = list(registry.fetch_entries("sql", "ris", query, frozenset({"mrn"}), FetchState()))
        assert [row["mrn"] for row in rows] == ["RIS001"]
        with pytest.raises(SourceError, match="source ris: no column ward in the result"):
            list(registry.fetch_entries("sql", "ris", CONFIG, frozenset({"mrn", "ward"}), FetchState()))


def test_unset_variable_is_a_source_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RIS_DATABASE_URL")
    with registered(pylantir_sql) as (registry, _):
        with pytest.raises(SourceError, match="environment variable RIS_DATABASE_URL is not set"):
            list(registry.fetch_entries("sql", "ris", CONFIG, frozenset(), FetchState()))


def test_sync_then_cfind(tmp_path: Path) -> None:
    source = {"name": "ris", "type": "sql", "config": CONFIG, "field_mapping": FIELD_MAPPING}
    with registered(pylantir_sql) as (registry, _):
        rows = sync_to_sqlite(registry, source, tmp_path / "worklist.sqlite")
    assert sorted(row["accession_number"] for row in rows) == ["A1001", "A1002"]
    found = query_worklist(tmp_path / "worklist.sqlite", {"Modality": "CT"})
    assert [(ds.PatientID, str(ds.PatientName)) for ds in found] == [("RIS002", "Roe^Richard")]


WRITE_BACK = {"status_column": "status", "ended_column": "finished"}


@pytest.fixture
def exams_with_status(ris_database: Path) -> Path:
    """The RIS table with a primary key and the columns write-back fills."""
    with sqlite3.connect(ris_database) as connection:
        connection.execute("CREATE TABLE scans (id INTEGER PRIMARY KEY, mrn TEXT, exam_day DATE, modality TEXT, "
                           "status TEXT, finished TEXT)")
        connection.execute("INSERT INTO scans (id, mrn, exam_day, modality) VALUES (7, 'RIS001', ?, 'MR')",
                           (date.today().isoformat(),))
    return ris_database


def test_write_back_updates_the_row_the_entry_came_from(exams_with_status: Path) -> None:
    from pylantir.testing import check_write_back_contract, step_change

    config = {"url_env": "RIS_DATABASE_URL", "table": "scans"}
    with registered(pylantir_sql) as (registry, _):
        rows = list(registry.fetch_entries("sql", "ris", config, frozenset(), FetchState()))
        assert [row.key for row in rows] == [{"id": 7}]
        changes = [step_change(rows[0].key, "COMPLETED", 1), step_change({"id": 8}, "STARTED", 2)]
        results = check_write_back_contract(registry, "sql", config, WRITE_BACK, changes)
    assert [result.outcome for result in results] == ["done", "failed"]
    with sqlite3.connect(exams_with_status) as connection:
        status, finished = connection.execute("SELECT status, finished FROM scans WHERE id = 7").fetchone()
    assert (status, finished) == ("COMPLETED", f"{date.today().isoformat()} 10:45:00")


def test_validate_write_back_needs_a_table_and_a_status_column() -> None:
    with registered(pylantir_sql) as (registry, _):
        problems = registry.validate_write_back("sql", {"url_env": "U", "query": "SELECT 1"}, {})
    assert {problem.path for problem in problems} == {"status_column", ""}
