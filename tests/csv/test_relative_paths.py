"""Relative paths in a configuration start at the configuration file's directory, whatever the working
directory (cron and systemd run from ``/``); "not found" messages name absolute paths."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

EXPORT = "mrn,name,modality,exam_date\nM1,DOE^JANE,MR,2026-12-01\n"
MAPPING = {"mrn": "patient_id", "name": "patient_name", "modality": "modality", "exam_date": "scheduled_start_date"}


def write_site(site: Path, file_path: str) -> Path:
    site.mkdir()
    (site / "exports").mkdir()
    (site / "exports" / "today.csv").write_text(EXPORT)
    config = site / "pylantir.json"
    config.write_text(json.dumps({
        "database_url": "sqlite:///data/worklist.sqlite",
        "data_sources": [{"name": "ris", "type": "csv", "config": {"file_path": file_path},
                          "field_mapping": MAPPING}],
    }))
    return config


def test_sync_from_another_directory_reads_and_writes_beside_the_config(tmp_path, pylantir_cli):
    config = write_site(tmp_path / "site", "exports/*.csv")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    synced = pylantir_cli("sync", "--config", config, cwd=elsewhere)
    assert synced.returncode == 0, synced.stderr
    assert list(elsewhere.iterdir()) == []  # no database created where the command ran
    with sqlite3.connect(tmp_path / "site" / "data" / "worklist.sqlite") as connection:
        assert connection.execute("SELECT patient_id FROM worklist_items").fetchall() == [("M1",)]
    listed = pylantir_cli("worklist", "list", "--config", config, "--json", cwd="/")
    assert [item["patient_id"] for item in json.loads(listed.stdout)] == ["M1"]


def test_a_missing_file_is_named_by_its_absolute_path(tmp_path, pylantir_cli):
    config = write_site(tmp_path / "site", "exports/missing.csv")
    missing = tmp_path / "site" / "exports" / "missing.csv"
    checked = pylantir_cli("config", "check", config, cwd=tmp_path)
    assert f"file '{missing}' does not exist yet" in checked.stdout + checked.stderr
    synced = pylantir_cli("sync", "--config", config, cwd="/")
    assert synced.returncode == 1
    assert f"file '{missing}' does not exist" in synced.stderr


def test_a_missing_config_file_is_named_by_its_absolute_path(tmp_path, pylantir_cli):
    checked = pylantir_cli("config", "check", "nowhere.json", cwd=tmp_path)
    assert checked.returncode == 1
    assert f"invalid configuration {tmp_path / 'nowhere.json'}" in checked.stderr
