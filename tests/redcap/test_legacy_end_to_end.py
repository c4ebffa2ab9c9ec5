"""A configuration file of the previous Pylantir, unchanged: REDCap -> sync -> C-FIND gives its IDs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from pylantir.cli.main import cli
from pylantir.config import Visibility, load_config
from pylantir.dicom.server import start_server
from pylantir.store import Database

#: Shaped like the previous Pylantir's src/pylantir/config/mwl_config.json.
LEGACY_FILE = {
    "db_path": "{db}",
    "db_echo": "0",
    "db_update_interval": 60,
    "allowed_aet": [],
    "operation_interval": {"start_time": [0, 0], "end_time": [23, 59]},
    "mri_visit_session_mapping": {"t1_arm_1": "1", "t2_arm_1": "2", "t3_arm_1": "3"},
    "site": "792",
    "redcap2wl": {
        "study_id": "study_id",
        "family_id": "family_id",
        "youth_dob_y": "youth_dob_y",
        "demo_sex": "demo_sex",
        "scheduled_date": "scheduled_start_date",
        "mri_wt_lbs": "patient_weight_lb",
    },
    "protocol": {"792": "BRAIN_MRI_3T"},
}

#: What the previous Pylantir (0.3.x-0.4.6, which ran a ``redcap2wl`` file as one REDCap data source)
#: produced from the fake project's rows: patient ID, patient name, birth date (none: ``youth_dob_y``
#: only names a field to export), scheduled date and time (the ``mri`` instance without a date is not
#: scheduled).
EXPECTED = {
    ("sub_1001_ses_1_fam_501_site_792", "cpip-id-1001^fa-501", "", "20260131", "143000"),
    ("sub_1001_ses_2_fam_501_site_792", "cpip-id-1001^fa-501", "", "20260731", "081500"),
    ("sub_1002_ses_1_fam_502_site_792", "cpip-id-1002^fa-502", "", "20260202", "100000"),
}


@pytest.fixture
def legacy_config(tmp_path: Path) -> Path:
    """The legacy file, its database in the test's directory."""
    path = tmp_path / "mwl_config.json"
    path.write_text(json.dumps(LEGACY_FILE).replace("{db}", str(tmp_path / "worklist.db")), encoding="utf-8")
    return path


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _c_find(port: int) -> dict[str, dict[str, str]]:
    """Every worklist item the DICOM server returns to a C-FIND (pylantir's client), by patient ID."""
    items = json.loads(_invoke("find", "127.0.0.1", str(port), "--json"))
    return {item["PatientID"]: item for item in items}


@pytest.fixture
def dicom_server(legacy_config: Path) -> Iterator[int]:
    """The DICOM server of the legacy configuration, on a free loopback port."""
    config = load_config(legacy_config)
    # every item, whatever its day (the file's REDCap source shows today's only, as 0.4.x did: that is
    # tested in tests/previous/test_visibility_keys.py)
    config = config.model_copy(update={"data_sources": [
        source.model_copy(update={"visibility": Visibility(all=True)}) for source in config.data_sources]})
    database = Database.open(config.database_url)
    server = start_server(config, database, host="127.0.0.1", port=0)
    yield server.port
    server.shutdown()
    database.engine.dispose()


def test_legacy_config_syncs_and_c_find_returns_the_previous_pylantir_ids(
    serve, longitudinal, legacy_config, dicom_server
):
    serve(longitudinal)
    _invoke("sync", "--config", str(legacy_config))

    items = _c_find(dicom_server)
    assert {
        (i["PatientID"], i["PatientName"], i["PatientBirthDate"], i["ScheduledProcedureStepStartDate"],
         i["ScheduledProcedureStepStartTime"]) for i in items.values()
    } == EXPECTED
    assert {i["Modality"] for i in items.values()} == {"MR"}
    uids = {pid: i["StudyInstanceUID"] for pid, i in items.items()}

    longitudinal.rows[1]["mri_time"] = "15:00"  # rescheduled in REDCap: same entry, same UID
    longitudinal.touch("1", datetime.now())
    _invoke("sync", "--config", str(legacy_config))  # incremental: only record 1 is exported
    again = _c_find(dicom_server)
    assert {pid: i["StudyInstanceUID"] for pid, i in again.items()} == uids
    assert again["sub_1001_ses_1_fam_501_site_792"]["ScheduledProcedureStepStartTime"] == "150000"

    listed = json.loads(_invoke("worklist", "list", "--config", str(legacy_config), "--json"))
    assert {(i["protocol_name"], i["requested_procedure_description"], i["patient_sex"]) for i in listed} == {
        ("BRAIN_MRI_3T", None, None)  # demo_sex only names a field to export, as there
    }
