"""field_mapping: plain and rich forms, errors that name the mapping key."""

from __future__ import annotations

import pytest

from pylantir.sync.mapping import FieldMapping, MappingError, RowError


def test_plain_renames_and_legacy_fetch_only_entries() -> None:
    mapping = FieldMapping.parse({"dob": "patient_birth_date", "study_id": "study_id"})
    assert mapping.source_fields == {"dob", "study_id"}
    assert mapping.apply({"dob": "31/01/1990", "study_id": "S1"}) == {"patient_birth_date": "19900131"}


def test_plain_rename_to_an_unknown_target_is_an_error_with_a_hint() -> None:
    with pytest.raises(MappingError) as excinfo:
        FieldMapping.parse({"dob": "patient_brith_date", "mri_instance": "session_id"})
    assert excinfo.value.problems == [
        "field_mapping.dob: 'patient_brith_date' is not a worklist field; did you mean 'patient_birth_date'?",
        "field_mapping.mri_instance: 'session_id' is not a worklist field; "
        "to only fetch the source field, map it to itself",
    ]


def test_rich_forms() -> None:
    mapping = FieldMapping.parse({
        "patient_id": {"template": "sub_{study_id}_ses_{visit.label}", "extract": {"visit.label": r"v(\d+)"}},
        "patient_name": {"from": "person.name", "format": "name", "name_order": "family_given"},
        "patient_sex": {"from": "sex", "map": {"1": "F", "2": "M"}},
        "accession_number": {"from": "ref", "regex": r"ACC-(\w+)"},
        "modality": {"value": "mr"},
        "scheduled_start_date": {"from": "when", "input_formats": ["%m/%d/%Y"]},
        "scheduled_start_time": {"from": "at", "default": "08:00"},
        "patient_weight_lb": {"from": "weight"},
        "extra.PatientState": {"from": "state"},
    })
    assert mapping.source_fields == {"study_id", "visit", "person", "sex", "ref", "when", "at", "weight", "state"}
    row = mapping.apply({
        "study_id": 7, "visit": {"label": "v02"}, "person": {"name": "Doe Jane"}, "sex": 1, "ref": "x ACC-9A y",
        "when": "01/31/2026", "at": "", "weight": "150", "state": "fasting",
    })
    assert row == {
        "patient_id": "sub_7_ses_02", "patient_name": "Doe^Jane", "patient_sex": "F", "accession_number": "9A",
        "modality": "MR", "scheduled_start_date": "20260131", "scheduled_start_time": "080000",
        "patient_weight_kg": 68.0, "extra_attributes": {"PatientState": "fasting"},
    }


def test_missing_values_give_default_or_nothing() -> None:
    mapping = FieldMapping.parse({
        "patient_id": {"template": "{a}-{b}", "default": "unknown"},
        "accession_number": {"from": "ref", "regex": r"A(\d+)"},
    })
    assert mapping.apply({"a": "1", "ref": "none"}) == {"patient_id": "UNKNOWN".lower(), "accession_number": None}


def test_unreadable_values_raise_row_error_naming_fields() -> None:
    mapping = FieldMapping.parse({"dob": "patient_birth_date", "t": "scheduled_start_time"})
    with pytest.raises(RowError) as error:
        mapping.apply({"dob": "31/02/1990", "t": "99:99"})
    assert [field for field, _ in error.value.problems] == ["patient_birth_date", "scheduled_start_time"]
    assert "31/02/1990" not in str(error.value)


def test_every_problem_names_its_key() -> None:
    with pytest.raises(MappingError) as error:
        FieldMapping.parse({
            "dob": {"from": "x"},
            "patient_id": {"from": "a", "value": 1},
            "modality": {"template": "{a}", "extract": {"b": "(x)"}},
            "patient_sex": {"from": "s", "regex": "(a)(b)"},
            "station_name": {"from": "s", "input_formats": ["%d"]},
            "protocol_name": {"from": "s", "fromm": 1},
            "weird": 3,
            "p1": "accession_number",
            "p2": "accession_number",
            "src": "extra.NotAKeyword",
            "study_description": {"from": "s", "format": "rot13"},
        }, where="data_sources[0].field_mapping")
    problems = error.value.problems
    assert isinstance(error.value, ValueError)
    for key in ("dob", "patient_id", "modality", "patient_sex", "station_name", "protocol_name", "weird", "p2",
                "src", "study_description"):
        assert any(p.startswith(f"data_sources[0].field_mapping.{key}:") for p in problems), key
    assert len(problems) == 10


def test_not_an_object() -> None:
    with pytest.raises(MappingError, match="must be an object"):
        FieldMapping.parse(["patient_id"])  # type: ignore[arg-type]


def test_repeated_values_map_alike_and_bad_ones_keep_failing() -> None:
    mapping = FieldMapping.parse({"dob": "patient_birth_date", "sex": "patient_sex"})
    for _ in range(3):  # plain renames remember the normalised form of texts they have seen
        assert mapping.apply({"dob": "31/01/1990", "sex": "female"}) == {
            "patient_birth_date": "19900131", "patient_sex": "F"}
        with pytest.raises(RowError) as error:
            mapping.apply({"dob": "31/02/1990", "sex": "female"})
        assert [field for field, _ in error.value.problems] == ["patient_birth_date"]
        assert mapping.apply({"dob": "  ", "sex": None}) == {"patient_birth_date": None, "patient_sex": None}


def test_previous_pylantir_names_write_the_renamed_columns() -> None:
    mapping = FieldMapping.parse({"state": "performed_procedure_step_status",
                                  "study_description": {"from": "exam"}})
    assert mapping.apply({"state": "arrived", "exam": "Knee MRI"}) == {
        "scheduled_procedure_step_status": "ARRIVED", "requested_procedure_description": "Knee MRI"}


def test_an_alias_and_its_column_are_two_writers_of_one_field() -> None:
    with pytest.raises(MappingError) as error:
        FieldMapping.parse({"a": "study_description", "b": "requested_procedure_description"})
    assert error.value.problems == [
        "field_mapping.b: worklist field requested_procedure_description is also written by 'a'"]


def test_suggestions_know_the_dicom_keywords() -> None:
    with pytest.raises(MappingError) as error:
        FieldMapping.parse({"ssn": "scheduled_station_name", "room": {"from": "r"}, "ae": "ScheduledStationAETitle"})
    assert error.value.problems == [
        "field_mapping.ssn: 'scheduled_station_name' is not a worklist field; did you mean 'station_name'?",
        "field_mapping.room: 'room' is not a worklist field; the rich form is keyed by the worklist field",
        "field_mapping.ae: 'ScheduledStationAETitle' is not a worklist field; "
        "did you mean 'scheduled_station_aetitle'?",
    ]


def test_the_sources_date_order_reads_every_date_field_without_input_formats() -> None:
    spec = {"dob": "patient_birth_date", "when": {"from": "when", "format": "date"},
            "scheduled_start_date": {"from": "day", "input_formats": ["%d/%m/%Y"]}}
    spec["extra.PatientState"] = spec.pop("when")
    record = {"dob": "11/02/1971", "when": "03/04/2026", "day": "01/02/2026"}
    row = FieldMapping.parse(spec, date_order="month_first").apply(record)
    assert row["patient_birth_date"] == "19711102"
    assert row["extra_attributes"] == {"PatientState": "20260304"}
    assert row["scheduled_start_date"] == "20260201"  # the field's own input_formats win
    with pytest.raises(RowError) as error:
        FieldMapping.parse(spec).apply(record)
    assert [field for field, _ in error.value.problems] == ["patient_birth_date", "extra.PatientState"]


def test_the_date_order_is_part_of_the_mapping_fingerprint() -> None:
    spec = {"dob": "patient_birth_date"}
    plain = FieldMapping.parse(spec).fingerprint
    assert FieldMapping.parse(spec, date_order="day_first").fingerprint != plain
    assert FieldMapping.parse(spec, date_order="month_first").fingerprint not in (
        plain, FieldMapping.parse(spec, date_order="day_first").fingerprint)


def test_a_two_digit_year_pattern_is_refused_for_birth_dates() -> None:
    with pytest.raises(MappingError, match=r"two-digit year"):
        FieldMapping.parse({"patient_birth_date": {"from": "dob", "input_formats": ["%m/%d/%y"]}})
    FieldMapping.parse({"scheduled_start_date": {"from": "day", "input_formats": ["%m/%d/%y"]}})
