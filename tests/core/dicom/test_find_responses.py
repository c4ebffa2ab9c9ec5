"""C-FIND return keys and character sets over real associations (PS3.4 K.2.2.1.2, K.4.1.1.3)."""

from __future__ import annotations

from collections.abc import Callable

from pydicom import Dataset
from pydicom.sequence import Sequence

from pylantir.dicom.client import Peer, find
from pylantir.dicom.responses import RequestPlan, build_response
from pylantir.store import WorklistItem


def keywords(dataset: Dataset) -> set[str]:
    """The keywords present at one level."""
    return {element.keyword for element in dataset}


def test_exactly_the_requested_keys_with_types(add_items: Callable[..., list[WorklistItem]], peer: Peer,
                                               query: Callable[..., Dataset]) -> None:
    """Requested keys only; Type 1 valued (fallbacks when not stored), Type 2 present and empty."""
    [item] = add_items({"scheduled_procedure_step_id": None, "requested_procedure_id": None,
                        "scheduled_station_aetitle": None, "patient_sex": None, "time": "083000"})
    request = query(
        {"PatientID": "", "PatientSex": "", "RequestedProcedureID": "", "AccessionNumber": ""},
        {"ScheduledProcedureStepID": "", "ScheduledStationAETitle": "", "Modality": "",
         "ScheduledProcedureStepStartTime": "", "ScheduledStationName": ""},
    )
    [response] = find(peer, request)
    assert keywords(response) == {"PatientID", "PatientSex", "RequestedProcedureID", "AccessionNumber",
                                  "ScheduledProcedureStepSequence"}
    assert response.PatientSex == "" and response.AccessionNumber == item.accession_number
    assert response.RequestedProcedureID == str(item.id)
    [step] = response.ScheduledProcedureStepSequence
    assert keywords(step) == {"ScheduledProcedureStepID", "ScheduledStationAETitle", "Modality",
                              "ScheduledProcedureStepStartTime", "ScheduledStationName"}
    assert (step.ScheduledProcedureStepID, step.ScheduledStationAETitle, step.Modality) == (
        str(item.id), "UNASSIGNED", "MR")
    assert step.ScheduledProcedureStepStartTime == "083000"
    assert step.ScheduledStationName == ""


def test_universal_sequence_returns_the_whole_item(add_items: Callable[..., list[WorklistItem]], peer: Peer,
                                                   query: Callable[..., Dataset]) -> None:
    """A zero-length SPS sequence or one empty item returns the whole single item (C.2.2.2.6)."""
    add_items({"station_name": "MRI-A", "protocol_name": "BRAIN", "hisris_coding_designator": "LOCAL"})
    zero_length = query({"PatientID": ""})
    zero_length.ScheduledProcedureStepSequence = Sequence()
    for request in (zero_length, query({"PatientID": ""}, {})):
        [response] = find(peer, request)
        [step] = response.ScheduledProcedureStepSequence
        assert {"Modality", "ScheduledStationAETitle", "ScheduledProcedureStepStartDate",
                "ScheduledProtocolCodeSequence"} <= keywords(step)
        assert step.ScheduledStationName == "MRI-A"
        assert step.ScheduledProtocolCodeSequence[0].CodingSchemeDesignator == "LOCAL"


def test_code_sequences_and_extra_attributes(add_items: Callable[..., list[WorklistItem]], peer: Peer,
                                             query: Callable[..., Dataset]) -> None:
    """Code sequences come from their columns, other keys from extra_attributes, unknown keys empty."""
    add_items({
        "requested_procedure_code_value": "MRBRAIN", "requested_procedure_code_scheme": "99LOCAL",
        "requested_procedure_code_meaning": "MR brain",
        "extra_attributes": {"PatientState": "fasting", "ReferencedStudySequence": [
            {"ReferencedSOPClassUID": "1.2.840.10008.3.1.2.3.1", "ReferencedSOPInstanceUID": "1.2.3"}]},
    })
    request = query({"PatientState": "", "PregnancyStatus": "", "AdmissionID": ""})
    code_item = Dataset()
    code_item.CodeValue = ""
    request.RequestedProcedureCodeSequence = Sequence([code_item])
    request.ReferencedStudySequence = Sequence()
    request.ReferencedPatientSequence = Sequence()
    [response] = find(peer, request)
    assert response.PatientState == "fasting"
    assert response.PregnancyStatus is None and response.AdmissionID == ""
    assert keywords(response.RequestedProcedureCodeSequence[0]) == {"CodeValue"}
    assert response.RequestedProcedureCodeSequence[0].CodeValue == "MRBRAIN"
    assert response.ReferencedStudySequence[0].ReferencedSOPInstanceUID == "1.2.3"
    assert len(response.ReferencedPatientSequence) == 0


def test_non_ascii_names_declare_utf8(add_items: Callable[..., list[WorklistItem]], peer: Peer,
                                      query: Callable[..., Dataset]) -> None:
    """Non-ASCII text is sent as UTF-8 with Specific Character Set ISO_IR 192, nested items included."""
    add_items({"patient_name": "Müller^Jürgen", "performing_physician": "Ødegård^Åse"},
              {"patient_name": "Plain^Ascii"})
    responses = find(peer, query({"PatientName": ""}, {"ScheduledPerformingPhysicianName": ""}))
    by_name = {str(r.PatientName): r for r in responses}
    accented = by_name["Müller^Jürgen"]
    assert accented.SpecificCharacterSet == "ISO_IR 192"
    assert str(accented.ScheduledProcedureStepSequence[0].ScheduledPerformingPhysicianName) == "Ødegård^Åse"
    assert "SpecificCharacterSet" not in by_name["Plain^Ascii"]


def test_latin1_request_matches_and_is_answered_in_utf8(add_items: Callable[..., list[WorklistItem]],
                                                        peer: Peer, query: Callable[..., Dataset]) -> None:
    """A key sent in ISO_IR 100 is decoded before matching; the answer may use another repertoire."""
    add_items({"patient_name": "Müller^Hans"}, {"patient_name": "Muller^Hans"})
    request = query({"SpecificCharacterSet": "ISO_IR 100", "PatientName": "MÜL*"})
    [response] = find(peer, request)
    assert str(response.PatientName) == "Müller^Hans"
    assert response.SpecificCharacterSet == "ISO_IR 192"


def test_ascii_request_with_character_set_gets_default_repertoire(
    add_items: Callable[..., list[WorklistItem]], query: Callable[..., Dataset]
) -> None:
    """A requested Specific Character Set comes back empty (default repertoire) when all text is ASCII."""
    [item] = add_items({})
    request = query({"SpecificCharacterSet": "ISO_IR 100", "PatientID": ""})
    response = build_response(item, RequestPlan.of(request)).dataset()
    assert "SpecificCharacterSet" in response and not response.SpecificCharacterSet


def test_numeric_values_are_valid_ds(add_items: Callable[..., list[WorklistItem]], peer: Peer,
                                     query: Callable[..., Dataset]) -> None:
    """Floats are returned as DS strings that fit the VR."""
    add_items({"patient_weight_kg": 72.123456789012345, "patient_size_m": 1.8})
    [response] = find(peer, query({"PatientWeight": "", "PatientSize": ""}))
    assert abs(float(response.PatientWeight) - 72.123456789) < 1e-6
    assert float(response.PatientSize) == 1.8
