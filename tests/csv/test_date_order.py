"""The newcomer's month-first CSV export through the CLI: rejected row by row with the fix named, never stored
wrong; after the one-line fix (``"date_order": "month_first"``) every birth date lands right."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from pylantir.sync.values import DATE_FIX

EXPORT = """MRN,Name,DOB,Exam date,Modality
M01,DOE^JANE,11/02/1971,2026-12-01,MR
M02,ROE^RICK,02/13/1971,2026-12-01,MR
M03,POE^ANN,12/25/1980,2026-12-01,CT
M04,LOE^LEE,05/05/1990,2026-12-01,CT
"""
MAPPING = {"MRN": "patient_id", "Name": "patient_name", "DOB": "patient_birth_date",
           "Exam date": "scheduled_start_date", "Modality": "modality"}


def write_config(tmp_path: Path, **source: object) -> Path:
    (tmp_path / "export.csv").write_text(EXPORT)
    config = tmp_path / "pylantir.json"
    config.write_text(json.dumps({
        "database_url": f"sqlite:///{tmp_path / 'worklist.sqlite'}",
        "data_sources": [{"name": "ris", "type": "csv", "config": {"file_path": str(tmp_path / "export.csv")},
                          "field_mapping": MAPPING, **source}],
    }))
    return config


def birth_dates(tmp_path: Path) -> dict[str, str]:
    with sqlite3.connect(tmp_path / "worklist.sqlite") as connection:
        return dict(connection.execute("SELECT patient_id, patient_birth_date FROM worklist_items"))


def test_month_first_dates_are_rejected_naming_the_fix_then_land_with_the_declared_order(tmp_path, pylantir_cli):
    config = write_config(tmp_path)
    synced = pylantir_cli("sync", "--config", config)
    assert synced.returncode == 0, synced.stderr
    assert birth_dates(tmp_path) == {"M04": "19900505"}  # the one date both orders read alike
    checked = pylantir_cli("sources", "check", "--config", config, "--fetch", "--json")
    [report] = json.loads(checked.stdout)
    assert [(r["location"], r["field"]) for r in report["rejected"]] == [
        ("export.csv, line 2", "patient_birth_date"), ("export.csv, line 3", "patient_birth_date"),
        ("export.csv, line 4", "patient_birth_date")]
    assert all(DATE_FIX in r["reason"] for r in report["rejected"])

    write_config(tmp_path, date_order="month_first")
    synced = pylantir_cli("sync", "--config", config)
    assert synced.returncode == 0, synced.stderr
    assert birth_dates(tmp_path) == {"M01": "19711102", "M02": "19710213", "M03": "19801225", "M04": "19900505"}


def test_a_day_first_declaration_reads_the_same_export_the_other_way(tmp_path, pylantir_cli):
    config = write_config(tmp_path, date_order="day_first")
    assert pylantir_cli("sync", "--config", config).returncode == 0
    # 02/13/1971 and 12/25/1980 have no thirteenth or twenty-fifth month: rejected, not stored wrong
    assert birth_dates(tmp_path) == {"M01": "19710211", "M04": "19900505"}


def test_an_unknown_date_order_is_a_config_error(tmp_path, pylantir_cli):
    checked = pylantir_cli("config", "check", write_config(tmp_path, date_order="mdy"))
    assert checked.returncode == 1
    assert "data_sources.0.date_order" in checked.stderr
