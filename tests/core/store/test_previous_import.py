"""The import of a previous Pylantir's worklist table (its 0.4.x layout) by ``pylantir db upgrade``, with only the
core installed: rows of unconfigured sources, values DICOM cannot hold, rows that cannot be entries."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import create_engine, text

from pylantir.cli.main import cli

#: The previous Pylantir 0.4.x's ``worklist_items`` (as its SQLAlchemy model created it, but for the date:
#: 0.4.x wrote ``YYYY-MM-DD`` into its ``VARCHAR(8)``, which only SQLite, its one database, accepts).
PREVIOUS_TABLE = """
CREATE TABLE worklist_items (
    id INTEGER NOT NULL PRIMARY KEY, study_instance_uid VARCHAR(100), patient_name VARCHAR(100),
    patient_id VARCHAR(50), patient_birth_date VARCHAR(8), patient_sex VARCHAR(1), patient_weight_lb VARCHAR(10),
    accession_number VARCHAR(50), referring_physician_name VARCHAR(100), modality VARCHAR(10),
    study_description VARCHAR(100), scheduled_station_aetitle VARCHAR(100), scheduled_start_date VARCHAR(10),
    scheduled_start_time VARCHAR(6), performing_physician VARCHAR(100), procedure_description VARCHAR(200),
    protocol_name VARCHAR(100), station_name VARCHAR(100), hisris_coding_designator VARCHAR(100),
    performed_procedure_step_status VARCHAR, data_source VARCHAR(255), source_record_id VARCHAR(255),
    CONSTRAINT uq_worklist_source_record UNIQUE (data_source, source_record_id)
)"""
COLUMNS = ("id", "study_instance_uid", "patient_name", "patient_id", "patient_sex", "patient_weight_lb", "modality",
           "study_description", "scheduled_start_date", "scheduled_start_time", "performed_procedure_step_status",
           "data_source")
ROWS = [
    (1, "1.2.3.1", "Doe^Jane", "P1", "1", "100", "MR", "Brain", "2026-12-02", "09:30", "COMPLETED", "lab"),
    (2, "1.2.3.2", "Roe^John", "P2", "M", "100", None, None, "20261203", "1415", "IN_PROGRESS", None),
    (3, "1.2.3.3", "Poe^Ann", "P3", "F", "100", "CT", None, "2026-12-04", None, "SCHEDULED", "lab"),
    (4, "1.2.3.4", "No^Id", None, "F", "100", "MR", None, "2026-12-04", "10:00", "SCHEDULED", "lab"),
    (5, "1.2.3.5", "Odd^Status", "P5", "F", "100", "MR", None, "2026-12-04", "10:00", "ARCHIVED", "lab"),
]


def previous_database(tmp_path: Path, url: str) -> Path:
    """The database at ``url`` as the previous Pylantir left it; a configuration (current format, no sources)."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(PREVIOUS_TABLE))
        connection.execute(text(f"INSERT INTO worklist_items ({', '.join(COLUMNS)}) VALUES "
                                f"({', '.join(':' + name for name in COLUMNS)})"),
                           [dict(zip(COLUMNS, row, strict=True)) for row in ROWS])
    engine.dispose()
    config = tmp_path / "pylantir.json"
    config.write_text(json.dumps({"database_url": url}))
    return config


def imported(url: str) -> dict[str, tuple[object, ...]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        found = {row[0]: tuple(row[1:]) for row in connection.execute(text(
            "SELECT patient_id, source_name, patient_sex, patient_weight_kg, modality, requested_procedure_description,"
            " scheduled_start, scheduled_procedure_step_status, status_from_mpps, study_instance_uid, identity "
            "FROM worklist_items"))}
    engine.dispose()
    return found


def test_every_row_that_can_be_an_entry_is_imported_once(tmp_path: Path, database_url: str) -> None:
    config = previous_database(tmp_path, database_url)
    database = database_url
    runner = CliRunner()
    upgraded = runner.invoke(cli, ["db", "upgrade", "--config", str(config)])
    assert upgraded.exit_code == 0, upgraded.output
    assert ("imported 3 of the 5 rows of the previous Pylantir's worklist (lab 2, previous 1; 0 to be matched by "
            "their source's next sync); left in legacy_worklist_items: 1 with a status the previous Pylantir never "
            "wrote; 1 without a patient ID or a scheduled date") in upgraded.output
    assert imported(database) == {
        # a sex coded 1 is not a DICOM sex: left empty; the weight (the previous default 100) is not imported
        "P1": ("lab", None, None, "MR", "Brain", "20261202093000", "COMPLETED", True, "1.2.3.1", "previous:1"),
        # no data_source: the unconfigured source "previous"; no modality: MR, as the previous Pylantir sent
        "P2": ("previous", "M", None, "MR", None, "20261203141500", "STARTED", True, "1.2.3.2", "previous:2"),
        "P3": ("lab", "F", None, "CT", None, "20261204000000", "SCHEDULED", False, "1.2.3.3", "previous:3"),
    }
    info = runner.invoke(cli, ["db", "info", "--config", str(config)])
    assert "previous Pylantir: imported 3 of the 5 rows of legacy_worklist_items on " in info.output
    assert "(lab 2, previous 1); 0 awaiting their source's next sync; not imported: 1 with a status" in info.output
    assert "legacy_worklist_items" in info.output.split("previous Pylantir:")[1]  # the backup's row count

    again = runner.invoke(cli, ["db", "upgrade", "--config", str(config)])
    assert again.exit_code == 0 and "imported" not in again.output
    assert len(imported(database)) == 3


def test_a_database_without_a_previous_table_imports_nothing(tmp_path: Path) -> None:
    config = tmp_path / "pylantir.json"
    config.write_text(json.dumps({"database_url": f"sqlite:///{tmp_path / 'new.db'}"}))
    upgraded = CliRunner().invoke(cli, ["db", "upgrade", "--config", str(config)])
    assert upgraded.exit_code == 0 and "imported" not in upgraded.output
    assert "previous Pylantir" not in CliRunner().invoke(cli, ["db", "info", "--config", str(config)]).output
