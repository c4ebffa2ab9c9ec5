"""The Search Transaction of the Modality Scheduled Procedure Step service over real HTTP against a running
``pylantir run``: the C-FIND conformance cases give the same matches, and the answers equal C-FIND's."""

from __future__ import annotations

import email
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from pydicom import Dataset
from pydicom.sequence import Sequence

from pylantir.dicom.client import SPS_KEYS, TOP_LEVEL_KEYS, find
from pylantir.dicomweb.search import parse_search

from ..dicom.test_find_matching import CASES
from .conftest import DicomWebSite

OFFERED = ["P1", "P2", "P3", "P4", "P6"]
NATIVE = "{http://dicom.nema.org/PS3.19/models/NativeDICOM}"


def case_parameters(top: dict[str, Any] | None, sps: dict[str, Any] | None) -> list[tuple[str, str]]:
    """A conformance case as query parameters: a UID list comma-separated, step keys by dotted path."""
    parameters = [(keyword, ",".join(value) if isinstance(value, list) else value)
                  for keyword, value in (top or {}).items()]
    parameters += [(f"ScheduledProcedureStepSequence.{keyword}", value) for keyword, value in (sps or {}).items()]
    return parameters


def case_identifier(top: dict[str, Any] | None, sps: dict[str, Any] | None) -> Dataset:
    """The same case as the C-FIND tests send it, asking for Patient ID too."""
    identifier = Dataset()
    for keyword, value in (top or {}).items():
        setattr(identifier, keyword, value)
    if "PatientID" not in identifier:
        identifier.PatientID = ""
    if sps is not None:
        step = Dataset()
        for keyword, value in sps.items():
            setattr(step, keyword, value)
        identifier.ScheduledProcedureStepSequence = Sequence([step])
    return identifier


def patient_ids(answers: list[dict[str, Any]]) -> list[str]:
    return [answer["00100020"]["Value"][0] for answer in answers]


@pytest.mark.parametrize(("top", "sps", "expected"), CASES)
def test_conformance_cases_match_as_c_find(worklist_site: DicomWebSite, top: Any, sps: Any,
                                           expected: list[str]) -> None:
    """Every C-FIND matching case asked over DICOMweb selects the same items, in the same order, as C-FIND."""
    response = worklist_site.search(*case_parameters(top, sps))
    assert response.status_code == (200 if expected else 204), response.text
    web = patient_ids(response.json()) if expected else []
    dimse = [str(answer.PatientID) for answer in find(worklist_site.peer, case_identifier(top, sps))]
    if sps and "ScheduledProcedureStepStartTime" in sps and "ScheduledProcedureStepStartDate" not in sps:
        web, dimse, expected = sorted(web), sorted(dimse), sorted(expected)  # a time of day spans dates
    assert web == expected == dimse, f"top={top} sps={sps}"


def _plain(value: Any) -> Any:
    """A value as both faces can be compared: text, numbers as text, empty as ''."""
    if value is None or value == "" or value == []:
        return ""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return [str(v) for v in value]
    return str(value)


def assert_same_attributes(web: Dataset, dimse: Dataset, where: str = "") -> None:
    """Exactly the same attributes, each with the same VR and value, sequences item by item."""
    assert [element.tag for element in web] == [element.tag for element in dimse], where
    for element in dimse:
        ours = web[element.tag]
        assert ours.VR == element.VR, f"{where}{element.keyword}"
        if element.VR == "SQ":
            assert len(ours.value) == len(element.value), f"{where}{element.keyword}"
            for index, (web_item, dimse_item) in enumerate(zip(ours.value, element.value, strict=True)):
                assert_same_attributes(web_item, dimse_item, f"{where}{element.keyword}[{index}].")
        else:
            assert _plain(ours.value) == _plain(element.value), f"{where}{element.keyword}"


@pytest.mark.parametrize("parameters", [
    [],
    [("PatientName", "Doe^*"), ("includefield", "PatientWeight,PatientBirthDate")],
    [("ScheduledProcedureStepSequence.Modality", "MR"),
     ("includefield", "ScheduledProcedureStepSequence.ScheduledStationName"),
     ("includefield", "ScheduledProcedureStepSequence.ScheduledProtocolCodeSequence")],
    [("PatientID", "P3")],
    [("00400100.00400002", "20260105-20260106"), ("includefield", "ScheduledProcedureStepSequence")],
], ids=["usual-keys", "includefield", "step-keys", "non-ascii", "whole-step"])
def test_answers_equal_c_find_responses(worklist_site: DicomWebSite, parameters: list[tuple[str, str]]) -> None:
    """The DICOM JSON answers parse with pydicom and equal C-FIND's responses to the same identifier,
    attribute by attribute."""
    response = worklist_site.search(*parameters)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/dicom+json"
    web = [Dataset.from_json(answer) for answer in response.json()]
    dimse = find(worklist_site.peer, parse_search(parameters).identifier)
    assert len(web) == len(dimse) > 0
    for ours, theirs in zip(web, dimse, strict=True):
        assert_same_attributes(ours, theirs)


def test_usual_keys_and_requested_ones_only(worklist_site: DicomWebSite) -> None:
    """Without includefield: the usual return keys and the matching keys; includefield adds exactly its own."""
    plain = Dataset.from_json(worklist_site.search(("PatientID", "P1")).json()[0])
    step_keys = {element.keyword for element in plain.ScheduledProcedureStepSequence[0]}
    assert {element.keyword for element in plain} - {"ScheduledProcedureStepSequence"} == set(TOP_LEVEL_KEYS)
    assert step_keys == set(SPS_KEYS)
    wider = Dataset.from_json(worklist_site.search(("PatientID", "P1"), ("includefield", "PatientWeight")).json()[0])
    assert {element.keyword for element in wider} - {element.keyword for element in plain} == {"PatientWeight"}


def test_includefield_all(worklist_site: DicomWebSite) -> None:
    """includefield=all returns every stored attribute, at both levels, beyond the usual keys."""
    everything = Dataset.from_json(worklist_site.search(("PatientID", "P1"), ("includefield", "all")).json()[0])
    usual = Dataset.from_json(worklist_site.search(("PatientID", "P1")).json()[0])
    assert {e.tag for e in usual} <= {e.tag for e in everything}
    assert len(everything) > len(usual)
    step, usual_step = everything.ScheduledProcedureStepSequence[0], usual.ScheduledProcedureStepSequence[0]
    assert len(step) > len(usual_step)
    assert step.ScheduledPerformingPhysicianName == "House^Gregory"


def test_dotted_tag_paths(worklist_site: DicomWebSite) -> None:
    """Attributes by tag, into the step's sequence too (00400100.00080060)."""
    assert patient_ids(worklist_site.search(("00400100.00080060", "CT")).json()) == ["P2"]
    assert patient_ids(worklist_site.search(("00100020", "P3")).json()) == ["P3"]


def test_limit_and_offset(worklist_site: DicomWebSite) -> None:
    """Paging in C-FIND's order; a Warning says when more can be requested."""
    first = worklist_site.search(("limit", "2"))
    assert patient_ids(first.json()) == OFFERED[:2]
    assert "There are additional results that can be requested" in first.headers["warning"]
    last = worklist_site.search(("offset", "4"), ("limit", "2"))
    assert patient_ids(last.json()) == OFFERED[4:]
    assert "warning" not in last.headers
    assert worklist_site.search(("offset", "5")).status_code == 204


def test_no_match_is_204(worklist_site: DicomWebSite) -> None:
    response = worklist_site.search(("PatientID", "NOBODY"))
    assert response.status_code == 204
    assert response.content == b""


def test_unsupported_flags_and_unmatched_keys_warn(worklist_site: DicomWebSite) -> None:
    """fuzzymatching=true: the standard's Warning, literal matching; a key not matched on: named in a Warning."""
    response = worklist_site.search(("PatientName", "doe^john"), ("fuzzymatching", "true"))
    service = f"{worklist_site.site.url}/dicomweb"
    assert response.headers["warning"] == (f"299 {service}: The fuzzymatching parameter is not supported. "
                                           "Only literal matching has been performed.")
    assert patient_ids(response.json()) == ["P1"]
    unmatched = worklist_site.search(("PatientID", "P1"), ("PatientWeight", "70"))
    assert unmatched.headers["warning"] == f"299 {service}: The following attributes were not used for matching: " \
                                           "PatientWeight"
    assert patient_ids(unmatched.json()) == ["P1"]


@pytest.mark.parametrize(("parameters", "named"), [
    ([("PatientNme", "X")], "PatientNme"),
    ([("ScheduledProcedureStepSequence.ScheduledProcedureStepStartDate", "2026-01-05")],
     "ScheduledProcedureStepStartDate"),
    ([("limit", "0")], "limit"),
    ([("offset", "x")], "offset"),
    ([("fuzzymatching", "yes")], "fuzzymatching"),
    ([("includefield", "all"), ("includefield", "PatientID")], "includefield"),
    ([("PatientID", "P1"), ("PatientID", "P2")], "PatientID"),
    ([("PatientID.Modality", "MR")], "PatientID"),
    ([("00091001", "x")], "00091001"),
    ([("PatientID", "P" * 65)], "PatientID"),
], ids=["unknown-keyword", "bad-date", "limit", "offset", "flag", "all-and-more", "twice", "not-a-sequence",
        "private", "too-long"])
def test_bad_parameters_are_400_naming_them(worklist_site: DicomWebSite, parameters: list[tuple[str, str]],
                                            named: str) -> None:
    response = worklist_site.search(*parameters)
    assert response.status_code == 400
    assert named in response.json()["detail"]


@pytest.mark.parametrize("accept", ["text/html", "application/dicom+xml",
                                    'multipart/related; type="application/dicom+json"'])
def test_unsupported_accept_is_406(worklist_site: DicomWebSite, accept: str) -> None:
    assert worklist_site.search(("PatientID", "P1"), Accept=accept).status_code == 406


def test_multipart_xml(worklist_site: DicomWebSite) -> None:
    """multipart/related; type="application/dicom+xml": one Native DICOM Model part per match."""
    response = worklist_site.search(("PatientName", "Doe^*"), Accept='multipart/related; type="application/dicom+xml"')
    assert response.status_code == 200
    content_type = response.headers["content-type"]
    assert content_type.startswith('multipart/related; type="application/dicom+xml"; boundary=')
    message = email.message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode() + response.content)
    parts = message.get_payload()
    assert isinstance(parts, list)
    ids = []
    for part in parts:
        assert part.get_content_type() == "application/dicom+xml"
        root = ET.fromstring(part.get_payload(decode=True))
        assert root.tag == f"{NATIVE}NativeDicomModel"
        attribute = root.find(f"{NATIVE}DicomAttribute[@tag='00100020']")
        assert attribute is not None and attribute.get("keyword") == "PatientID"
        ids.append(attribute.findtext(f"{NATIVE}Value"))
        name = root.find(f"{NATIVE}DicomAttribute[@tag='00100010']/{NATIVE}PersonName/{NATIVE}Alphabetic")
        assert name is not None and name.findtext(f"{NATIVE}FamilyName") == "Doe"
    assert ids == ["P1", "P2"]


def test_search_needs_a_credential(worklist_site: DicomWebSite) -> None:
    """No token: 401; a read token may search."""
    with worklist_site.site.client() as anonymous:
        assert anonymous.get("/dicomweb/modality-scheduled-procedure-steps").status_code == 401
    assert worklist_site.search(("PatientID", "P1")).status_code == 200
