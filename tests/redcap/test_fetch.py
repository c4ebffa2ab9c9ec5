"""Fetching from classic and longitudinal projects: rows, baseline merge, selection, fields asked for."""

from __future__ import annotations

import pytest

from pylantir import Record, SourceError

LEGACY_FIELDS = {"study_id", "family_id", "youth_dob_y", "demo_sex", "mri_instance", "mri_date", "mri_time"}


def _by_location(entries: list[Record]) -> dict[str, dict]:
    assert all(isinstance(entry, Record) for entry in entries)
    return {entry.location: dict(entry.data) for entry in entries}


def test_classic_project_yields_one_raw_record_per_participant(serve, fetch, classic):
    server = serve(classic)
    entries = _by_location(fetch({}, {"name", "dob", "sex", "scan_date", "scan_time"}))

    assert sorted(entries) == ["record 1", "record 2", "record 3"]
    source = entries["record 1"].pop("_source")
    assert entries["record 1"] == {
        "record_id": "1", "name": "Doe, Jane", "dob": "1990-01-31", "sex": "1",
        "scan_date": "2026-01-31", "scan_time": "14:30",
    }
    assert list(source) == ["study_instance_uid"]
    (request,) = server.records_requests()
    assert request["fields"] == ["record_id", "dob", "name", "scan_date", "scan_time", "sex"]
    assert (request["format"], request["type"]) == ("json", "flat")
    assert "dateRangeBegin" not in request


def test_require_fields_drop_rows_without_them(serve, fetch, classic):
    serve(classic)
    entries = _by_location(fetch({"require_fields": ["scan_date", "scan_time"]}, {"name"}))
    assert sorted(entries) == ["record 1", "record 2"]
    assert entries["record 2"]["scan_time"] == "09:00"  # required fields are exported too


def test_site_filter_on_a_field_and_protocol_per_site(serve, fetch, classic):
    serve(classic)
    config = {"site_id": "A", "site_field": "site", "protocol": {"A": "BRAIN_3T", "B": "SPINE"}}
    entries = _by_location(fetch(config, {"name", "_source"}))
    assert sorted(entries) == ["record 1", "record 3"]
    assert entries["record 1"]["_source"]["site_id"] == "A"
    assert entries["record 1"]["_source"]["protocol"] == "BRAIN_3T"


def test_legacy_site_spelling_and_protocol_string(serve, fetch, classic):
    serve(classic)
    (first, *_) = fetch({"site": 792, "protocol": "BRAIN_MRI_3T"}, {"name"})
    assert (first.data["_source"]["site_id"], first.data["_source"]["protocol"]) == ("792", "BRAIN_MRI_3T")


def test_filter_logic_is_passed_to_redcap(serve, fetch, classic):
    server = serve(classic)
    entries = _by_location(fetch({"filter_logic": "[sex] = '2'"}, {"name"}))
    assert sorted(entries) == ["record 2", "record 3"]
    assert server.records_requests()[0]["filterLogic"] == "[sex] = '2'"


def test_checkbox_options_are_requested_by_their_field(serve, fetch, classic):
    server = serve(classic)
    entries = _by_location(fetch({}, {"consent___2"}))
    assert entries["record 2"]["consent___2"] == "1"
    assert server.records_requests()[0]["fields"] == ["record_id", "consent"]


def test_data_access_group_as_site_field(serve, fetch, classic):
    classic.rows[0]["redcap_data_access_group"] = "calgary"
    server = serve(classic)
    entries = fetch({"site_id": "calgary", "site_field": "redcap_data_access_group"}, {"name"})
    assert [entry.location for entry in entries] == ["record 1"]
    assert server.records_requests()[0]["exportDataAccessGroups"] == "True"


def test_unknown_fields_are_an_error_naming_them(serve, fetch, classic):
    server = serve(classic)
    with pytest.raises(SourceError) as caught:
        fetch({"fields": ["weight"]}, {"name", "scheduled_date"})
    message = str(caught.value)
    assert "source 'study'" in message and "scheduled_date, weight" in message
    assert server.records_requests() == []


def test_unknown_fields_can_be_left_out_with_a_warning(serve, fetch, classic, caplog):
    server = serve(classic)
    entries = fetch({"unknown_fields": "warn"}, {"name", "scheduled_date"})
    assert len(entries) == 3
    assert "scheduled_date" in caplog.text
    assert server.records_requests()[0]["fields"] == ["record_id", "name"]


def test_longitudinal_repeating_rows_take_missing_fields_from_baseline(serve, fetch, longitudinal):
    serve(longitudinal)
    config = {"repeat_instrument": "mri", "require_fields": ["mri_instance", "mri_date", "mri_time"]}
    entries = _by_location(fetch(config, LEGACY_FIELDS | {"visit_weight"}))

    assert sorted(entries) == [
        "record 1 t1_arm_1 mri #1", "record 1 t2_arm_1 mri #1", "record 2 t1_arm_2 mri #1",
    ]
    second_visit = entries["record 1 t2_arm_1 mri #1"]
    assert second_visit["study_id"] == "CPIP-1001"  # from the baseline (first event)
    assert second_visit["visit_weight"] == "45"  # from its own event's row first
    assert (second_visit["mri_instance"], second_visit["mri_date"], second_visit["mri_time"]) == (
        "2", "2026-07-31", "08:15",
    )
    assert entries["record 2 t1_arm_2 mri #1"]["family_id"] == "FAM-502"


def test_without_repeat_instrument_each_event_row_is_an_entry(serve, fetch, longitudinal):
    serve(longitudinal)
    entries = _by_location(fetch({}, {"study_id", "visit_weight"}))
    assert sorted(entries) == ["record 1 t1_arm_1", "record 1 t2_arm_1", "record 2 t1_arm_2"]
    assert entries["record 1 t2_arm_1"]["study_id"] == "CPIP-1001"


def test_events_are_passed_to_redcap_and_arms_select_rows(serve, fetch, longitudinal):
    server = serve(longitudinal)
    config = {"repeat_instrument": "mri", "require_fields": ["mri_date"]}
    by_event = fetch(config | {"events": ["t2_arm_1"]}, LEGACY_FIELDS)
    assert [entry.location for entry in by_event] == ["record 1 t2_arm_1 mri #1"]
    assert server.records_requests()[0]["events"] == ["t2_arm_1"]

    by_arm = fetch(config | {"arms": [2]}, LEGACY_FIELDS)
    assert [entry.location for entry in by_arm] == ["record 2 t1_arm_2 mri #1"]


def test_unknown_event_is_reported_as_redcap_error(serve, fetch, longitudinal):
    serve(longitudinal)
    with pytest.raises(SourceError, match=r"source 'study'.*\"events\" are not valid"):
        fetch({"events": ["t9_arm_1"]}, {"study_id"})


def test_logs_at_info_name_no_patient_data(serve, fetch, classic, caplog):
    serve(classic)
    caplog.set_level("INFO", logger="pylantir_redcap")
    fetch({"unknown_fields": "warn"}, {"name", "dob", "nickname"})
    assert "returned 3 rows" in caplog.text and "nickname" in caplog.text
    assert not any(value in caplog.text for value in ("Doe", "Jane", "1990-01-31"))


def test_each_row_has_its_own_study_instance_uid_kept_across_syncs(serve, fetch, longitudinal):
    server = serve(longitudinal)
    config = {"repeat_instrument": "mri"}
    uids = {e.location: e.data["_source"]["study_instance_uid"] for e in fetch(config, {"mri_date"})}
    assert len(set(uids.values())) == len(uids) == 4
    assert all(uid.startswith("2.25.") and len(uid) <= 64 for uid in uids.values())

    longitudinal.rows[1]["mri_date"] = "2026-03-01"  # rescheduled
    again = {e.location: e.data["_source"]["study_instance_uid"] for e in fetch(config, {"mri_date"})}
    assert again == uids
    assert [form["content"] for form in server.requests[:3]] == ["metadata", "project", "record"]


def test_redcap_columns_and_form_status_can_be_mapped(serve, fetch, longitudinal):
    server = serve(longitudinal)
    entries = fetch({"repeat_instrument": "mri"}, {"redcap_event_name", "redcap_repeat_instance", "mri_complete"})
    assert {entry.data["redcap_event_name"] for entry in entries} == {"t1_arm_1", "t2_arm_1", "t1_arm_2"}
    assert server.records_requests()[0]["fields"] == ["record_id", "mri_complete"]
