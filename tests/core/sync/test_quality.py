"""Quality gates: required fields, DICOM VR validity, plausibility."""

from __future__ import annotations

from datetime import date

import pytest

from pylantir.sync.quality import QualityGate

TODAY = date(2026, 1, 5)
VALID = {"patient_id": "P1", "patient_name": "Doe^Jane", "scheduled_start_date": "20260105", "modality": "MR"}


def _fields(**changes: object) -> list[str]:
    return [field for field, _ in QualityGate(TODAY).check(VALID | changes)]


def test_a_valid_row_passes() -> None:
    assert _fields(study_instance_uid="1.2.840.1", scheduled_start_time="093000", patient_sex="F") == []


def test_required_fields() -> None:
    assert _fields(patient_name="", modality=None) == ["patient_name", "modality"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("modality", "m r!"), ("study_instance_uid", "1.02.3"), ("study_instance_uid", "1." + "2" * 70),
     ("accession_number", "A" * 17), ("patient_name", "a^b^c^d^e^f"), ("patient_id", "back\\slash"),
     ("scheduled_station_aetitle", "X" * 17), ("scheduled_start_time", "250000"), ("patient_sex", "X"),
     ("patient_birth_date", "20300101"), ("patient_birth_date", "18991231"), ("scheduled_start_date", "20240101"),
     ("scheduled_start_date", "20330101"), ("patient_weight_kg", 0.0), ("patient_weight_kg", float("nan"))],
)
def test_invalid_values_are_named(field: str, value: object) -> None:
    assert _fields(**{field: value}) == [field]


def test_extra_attributes_are_checked_by_their_vr() -> None:
    extras = {"PatientState": "fine", "StudyDate": "x", "PregnancyStatus": 7}
    assert _fields(extra_attributes=extras) == ["extra.StudyDate"]
    # a US value is a number (the mapping converts it): text would break the response's encoding
    assert _fields(extra_attributes={"PregnancyStatus": "7"}) == ["extra.PregnancyStatus"]
    assert _fields(extra_step_attributes={"RequestedContrastAgent": ["a", "b"]}) == ["extra.RequestedContrastAgent"]


def test_verdicts_stay_the_same_when_values_repeat() -> None:
    gate = QualityGate(TODAY)  # remembers texts that passed, per column
    for _ in range(3):
        assert gate.check(VALID | {"patient_birth_date": "19800203"}) == []
        problems = gate.check(VALID | {"modality": "m r!", "patient_birth_date": "20300101"})
        assert [field for field, _ in problems] == ["modality", "patient_birth_date"]


@pytest.mark.parametrize("vr_keyword", ["PatientComments", "AdditionalPatientHistory"])  # LT, LT
def test_free_text_keeps_backslashes_and_line_breaks(vr_keyword: str) -> None:
    """ST/LT/UT hold one value: a backslash is text there (PS3.5 6.2), line breaks are allowed, other controls not."""
    assert _fields(extra_attributes={vr_keyword: "C:\\scans\\today\r\nsecond line\tend"}) == []
    assert _fields(extra_attributes={vr_keyword: "bell\x07"}) == [f"extra.{vr_keyword}"]
    assert _fields(extra_step_attributes={"CommentsOnTheScheduledProcedureStep": "a\\b"}) == []  # LT at step level
