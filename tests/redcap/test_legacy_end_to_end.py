"""A configuration file of the previous Pylantir, unchanged: REDCap -> sync -> the previous Pylantir's IDs."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from pylantir.cli.main import cli

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

#: What the previous Pylantir produced from the fake project's rows: patient ID, patient name, birth
#: date, scheduled date and time (the ``mri`` instance without a date is not scheduled).
EXPECTED = {
    ("sub_1001_ses_1_fam_501_site_792", "cpip-id-1001^fa-501", "20120101", "20260131", "143000"),
    ("sub_1001_ses_2_fam_501_site_792", "cpip-id-1001^fa-501", "20120101", "20260731", "081500"),
    ("sub_1002_ses_1_fam_502_site_792", "cpip-id-1002^fa-502", "20130101", "20260202", "100000"),
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


def _worklist(config: Path) -> list[dict]:
    return json.loads(_invoke("worklist", "list", "--config", str(config), "--json"))


def test_legacy_config_syncs_the_previous_pylantir_ids(serve, longitudinal, legacy_config):
    serve(longitudinal)
    _invoke("sync", "--config", str(legacy_config))

    items = _worklist(legacy_config)
    assert {
        (i["patient_id"], i["patient_name"], i["patient_birth_date"], i["scheduled_start_date"],
         i["scheduled_start_time"]) for i in items
    } == EXPECTED
    assert {(i["modality"], i["protocol_name"], i["study_description"]) for i in items} == {
        ("MR", "BRAIN_MRI_3T", "CPIP")
    }
    uids = {i["patient_id"]: i["study_instance_uid"] for i in items}

    longitudinal.rows[1]["mri_time"] = "15:00"  # rescheduled in REDCap: same entry, same UID
    longitudinal.touch("1", datetime.now())
    _invoke("sync", "--config", str(legacy_config))
    again = {i["patient_id"]: i for i in _worklist(legacy_config)}
    assert {pid: i["study_instance_uid"] for pid, i in again.items()} == uids
    assert again["sub_1001_ses_1_fam_501_site_792"]["scheduled_start_time"] == "150000"
