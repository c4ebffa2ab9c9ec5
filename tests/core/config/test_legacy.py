"""The previous Pylantir's configuration format: conversion, its one warning, equivalence, errors."""

from __future__ import annotations

import json
import logging
import os

import pytest

from pylantir.config import ConfigError, load_config
from pylantir.config.legacy_preset import LEGACY_REDCAP_PRESET


@pytest.fixture(autouse=True)
def _no_database_override(monkeypatch):
    monkeypatch.delenv("PYLANTIR_DATABASE_URL", raising=False)


def deprecation_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("pylantir.config") and r.levelno == logging.WARNING]


def test_legacy_file_becomes_one_redcap_source(write_config, legacy_file, caplog):
    config = load_config(write_config(legacy_file))

    assert config.database_url == "sqlite:///" + os.path.expanduser("~/pylantir-test/worklist.db")
    assert config.database_echo is False
    assert config.server.allowed_aets == ["MRI_SCANNER"]
    assert (config.server.host, config.server.port) == ("0.0.0.0", 4242)
    [source] = config.data_sources
    assert (source.name, source.type, source.enabled) == ("legacy_redcap", "redcap", True)
    assert source.sync_interval == 90
    assert source.operation_interval.start_time == (8, 0)
    assert source.operation_interval.end_time == (18, 30)
    assert source.config == {
        "api_url_env": "REDCAP_API_URL",
        "api_token_env": "REDCAP_API_TOKEN",
        "site_id": "792",
        "protocol": "BRAIN_MRI_3T",
        "repeat_instrument": "mri",
        "require_fields": ["mri_instance", "mri_date", "mri_time"],
        "unknown_fields": "warn",
    }


def test_field_mapping_is_the_preset_then_redcap2wl(write_config, legacy_file):
    mapping = load_config(write_config(legacy_file)).data_sources[0].field_mapping

    for key, value in legacy_file["redcap2wl"].items():
        assert mapping[key] == value
    assert set(LEGACY_REDCAP_PRESET) <= set(mapping)
    assert mapping["patient_id"]["template"] == "sub_{study_id}_ses_{mri_instance}_fam_{family_id}_site_792"
    assert mapping["patient_name"]["template"] == "cpip-id-{study_id}^fa-{family_id}"
    assert mapping["patient_birth_date"] == {"template": "{youth_dob_y}0101"}
    assert mapping["patient_sex"] == {"from": "demo_sex", "regex": r"^\s*([MFOmfo])"}
    assert mapping["protocol_name"] == {"value": "BRAIN_MRI_3T"}
    assert list(mapping)[-len(legacy_file["redcap2wl"]) :] == list(legacy_file["redcap2wl"])


def test_one_deprecation_warning_whose_snippet_loads_to_the_same_config(write_config, legacy_file, caplog):
    with caplog.at_level(logging.WARNING):
        converted = load_config(write_config(legacy_file))
    [record] = deprecation_records(caplog)
    message = record.getMessage()
    assert "DEPRECATED" in message and "redcap2wl" in message
    assert "Ignored (no longer used): mri_visit_session_mapping" in message

    snippet = message[message.index("\n{") + 1 :]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        migrated = load_config(write_config(json.loads(snippet), name="migrated.json"))
    assert deprecation_records(caplog) == []
    assert migrated.model_dump() == converted.model_dump()


def test_empty_data_sources_beside_redcap2wl_is_still_legacy(write_config, legacy_file):
    legacy_file["data_sources"] = []
    assert [s.name for s in load_config(write_config(legacy_file)).data_sources] == ["legacy_redcap"]


def test_both_formats_in_one_file_is_an_error(write_config, legacy_file):
    legacy_file["data_sources"] = [{"name": "a", "type": "csv"}]
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(legacy_file))
    [problem] = caught.value.problems
    assert problem.startswith("data_sources: the legacy 'redcap2wl' format and 'data_sources' cannot be combined")


def test_legacy_errors_name_the_legacy_keys(write_config, legacy_file):
    legacy_file["db_update_interval"] = "often"
    legacy_file["sitee"] = "1"
    legacy_file["operation_interval"] = {"start_time": [8, 75]}
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(legacy_file))
    assert sorted(caught.value.problems) == sorted(
        [
            "db_update_interval: Input should be a valid number, unable to parse string as a number",
            "sitee: unknown key; did you mean 'site'?",
            "operation_interval.start_time: must be [hour, minute] with hour 0-23 and minute 0-59",
        ]
    )


@pytest.mark.parametrize(
    ("changes", "protocol", "echo"),
    [
        ({"protocol": {"100": "OTHER"}}, "DEFAULT_PROTOCOL", False),
        ({"protocol": "SINGLE"}, "SINGLE", False),
        ({"db_echo": "1"}, "BRAIN_MRI_3T", True),
        ({"db_echo": True}, "BRAIN_MRI_3T", True),
        ({"db_echo": "False"}, "BRAIN_MRI_3T", False),
    ],
)
def test_protocol_and_echo_follow_the_previous_rules(write_config, legacy_file, changes, protocol, echo):
    legacy_file.update(changes)
    config = load_config(write_config(legacy_file))
    assert config.data_sources[0].config["protocol"] == protocol
    assert config.data_sources[0].field_mapping["protocol_name"] == {"value": protocol}
    assert config.database_echo is echo


def test_minimal_legacy_file(write_config):
    config = load_config(write_config({"db_update_interval": 60, "redcap2wl": {"study_id": "study_id"}}))
    [source] = config.data_sources
    assert "site_id" not in source.config
    assert source.field_mapping["patient_id"]["template"].endswith("_site_")
    assert config.server.allowed_aets is None
    assert config.database_url == "sqlite:///pylantir.sqlite"


def test_redcap2wl_entries_for_fields_the_preset_sets_are_left_out_and_named(write_config, legacy_file, caplog):
    # as in the previous Pylantir's shipped file: scheduled_date would hide mri_date, youth_dob_y a full date
    legacy_file["redcap2wl"].update(
        {"scheduled_date": "scheduled_start_date", "youth_dob_y": "patient_birth_date", "modality": "modality"}
    )
    with caplog.at_level(logging.WARNING):
        mapping = load_config(write_config(legacy_file)).data_sources[0].field_mapping
    assert "scheduled_date" not in mapping and "youth_dob_y" not in mapping
    assert mapping["scheduled_start_date"] == {"from": "mri_date"}
    assert mapping["patient_birth_date"] == {"template": "{youth_dob_y}0101"}
    assert mapping["modality"] == {"value": "MR"}
    plain_targets = [target for target in mapping.values() if isinstance(target, str)]
    assert not set(plain_targets) & {key for key, spec in mapping.items() if isinstance(spec, dict)}
    [record] = deprecation_records(caplog)
    assert (
        "keeps precedence: youth_dob_y -> patient_birth_date, scheduled_date -> scheduled_start_date, "
        "modality -> modality." in record.getMessage()
    )
