"""The built-in file plugins pass the same contract check a third-party plugin runs against itself."""

from __future__ import annotations

from datetime import date

import pytest

from pylantir.testing import check_source_contract, load_distribution

MAPPING = {"mrn": "patient_id", "name": "patient_name", "day": "scheduled_start_date", "modality": "modality"}


@pytest.mark.parametrize(
    ("distribution", "type_name", "content"),
    [
        ("pylantir-csv", "csv", "mrn,name,day,modality\nP1,\"Doe, Jane\",{today},MR\n"),
        ("pylantir-json", "json", '[{{"mrn": "P1", "name": "Doe, Jane", "day": "{today}", "modality": "MR"}}]'),
    ],
)
def test_file_plugins_keep_the_contract(tmp_path, distribution, type_name, content):
    export = tmp_path / f"export.{type_name}"
    export.write_text(content.format(today=date.today().isoformat()))
    registry, _ = load_distribution(distribution)
    entries = check_source_contract(
        registry,
        type_name,
        good_config={"file_path": str(export)},
        bad_configs={"file_path": {"file_path": 3}, "colour": {"file_path": str(export), "colour": "red"}},
        field_mapping=MAPPING,
        failing_config={"file_path": str(tmp_path / "missing" / f"x.{type_name}")},
    )
    assert [(e["patient_id"], e["patient_name"]) for e in entries] == [("P1", "Doe^Jane")]
