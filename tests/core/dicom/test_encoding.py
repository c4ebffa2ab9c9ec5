"""Response identifiers encoded without pydicom are byte for byte what pydicom encodes (PS3.5 7.1, 7.5).

Every VR a response can carry, in both little-endian transfer syntaxes, with and without ISO_IR 192; then
the answers of a real server on every accepted transfer syntax, and one too large for the peer's PDUs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from pydicom import Dataset
from pydicom.datadict import DicomDictionary
from pydicom.sequence import Sequence
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pydicom.valuerep import DSfloat
from pynetdicom import AE, evt
from pynetdicom.dsutils import encode
from pynetdicom.pdu import P_DATA_TF
from pynetdicom.sop_class import ModalityWorklistInformationFind  # type: ignore[attr-defined]  # made at import

from pylantir.dicom import RunningServer
from pylantir.dicom.encoding import encode_response
from pylantir.dicom.responses import CHARACTER_SET_TAG, UTF8, Element, RequestPlan, Response, build_response
from pylantir.store import WorklistItem

STRINGS: list[Any] = ["A", "AB", "odd", " padded ", "x\\y", "a\\", "\\", ["a", "b "], ["", "c"], "1.2.840.10008"]
NON_ASCII: list[Any] = ["Müller^Jürgen", "Ødegård", ["é", "ü\\ä"], "東京"]
NUMBERS: dict[str, list[Any]] = {
    "DS": [DSfloat(72.123456789, auto_format=True), DSfloat(1.8, auto_format=True), [DSfloat(1.5), DSfloat(-2)]],
    "IS": [5, "007", [1, 22]],
    "US": [5, 65535, [1, 2]],
    "SS": [-3, [1, -1]],
    "UL": [70000],
    "SL": [-70000],
    "FL": [1.5, [0.25, 3.0]],
    "FD": [2.25],
    "AT": [0x00100010, [0x00100020, 0x00080050]],
}
TEXT = ("LO", "LT", "PN", "SH", "ST", "UC", "UT")
OTHER_STRINGS = ("AE", "AS", "CS", "DA", "DT", "TM", "UI", "UR")


def tag_with_vr(vr: str) -> int:
    """The first tag of the data dictionary whose VR is ``vr``."""
    return next(tag for tag, entry in sorted(DicomDictionary.items()) if entry[0] == vr and tag >> 16 != 0)


def response(elements: list[Element], non_ascii: bool = False) -> Response:
    """A response of ``elements`` (sorted by tag), declaring ISO_IR 192 when ``non_ascii``."""
    extra: list[Element] = [(CHARACTER_SET_TAG, "CS", UTF8)] if non_ascii else []
    return Response(sorted([*elements, *extra], key=lambda element: element[0]), non_ascii)


def assert_as_pydicom(answer: Response) -> None:
    for implicit in (True, False):
        assert encode_response(answer, implicit) == encode(answer.dataset(), implicit, True), (
            f"{'implicit' if implicit else 'explicit'}: {answer.elements}")


@pytest.mark.parametrize("vr", TEXT + OTHER_STRINGS)
def test_strings_are_encoded_as_pydicom_does(vr: str) -> None:
    """Padding, multiple values, surrounding spaces (a UID's are dropped), empty values."""
    tag = tag_with_vr(vr)
    for value in [*STRINGS, None]:
        assert_as_pydicom(response([(tag, vr, value)]))


@pytest.mark.parametrize("vr", TEXT)
def test_non_ascii_text_is_utf8_under_iso_ir_192(vr: str) -> None:
    tag = tag_with_vr(vr)
    for value in NON_ASCII:
        assert_as_pydicom(response([(tag, vr, value)], non_ascii=True))


@pytest.mark.parametrize("vr", OTHER_STRINGS)
def test_other_strings_keep_the_default_repertoire(vr: str) -> None:
    """Only text VRs take the declared character set; others are written in ISO 8859-1, as by pydicom."""
    tag = tag_with_vr(vr)
    for non_ascii in (False, True):
        assert_as_pydicom(response([(tag, vr, "é"), (tag_with_vr("PN"), "PN", "Müller")], non_ascii))


@pytest.mark.parametrize("vr", sorted(NUMBERS))
def test_numbers_and_tags_are_encoded_as_pydicom_does(vr: str) -> None:
    tag = tag_with_vr(vr)
    for value in [*NUMBERS[vr], None]:
        assert_as_pydicom(response([(tag, vr, value)]))


def test_sequences_nested_empty_and_many_items() -> None:
    """Defined lengths for sequences and items, empty sequences, items in items, several elements."""
    step = [(0x00400001, "AE", "MR1"), (0x00400002, "DA", "20260105"), (0x00400007, "LO", "Brain"),
            (0x00400008, "SQ", [[(0x00080100, "SH", "X1"), (0x00080102, "SH", "99L"), (0x00080104, "LO", "odd")]])]
    elements = [(0x00080050, "SH", "ACC1"), (0x00081110, "SQ", []), (0x00100010, "PN", "Müller^Jürgen"),
                (0x00100020, "LO", None), (0x00400100, "SQ", [step, step[:2]])]
    for non_ascii in (False, True):
        assert_as_pydicom(response(elements, non_ascii))


def test_long_values_beyond_a_short_length(caplog: pytest.LogCaptureFixture) -> None:
    """A string over 64 KiB in a 16-bit-length VR is written as pydicom writes it (UN when explicit)."""
    caplog.set_level(logging.ERROR)
    with pytest.warns(UserWarning):
        assert_as_pydicom(response([(0x00100020, "LO", "x" * 70_000), (0x00104000, "LT", "y" * 70_001)]))
    assert_as_pydicom(response([(0x0040A160, "UT", "z" * 70_001)]))


def test_built_responses_are_encoded_as_pydicom_does(add_items: Callable[..., list[WorklistItem]],
                                                     query: Callable[..., Dataset]) -> None:
    """Real items through the response builder: fallbacks, code sequences, extras, universal items."""
    items = add_items(
        {"patient_name": "Müller^Jürgen", "requested_procedure_code_value": "MRBRAIN",
         "patient_weight_kg": 72.5, "extra_attributes": {"PatientState": "fasting", "ReferencedStudySequence": [
             {"ReferencedSOPClassUID": "1.2.840.10008.3.1.2.3.1", "ReferencedSOPInstanceUID": " 1.2.3 "}]}},
        {"scheduled_procedure_step_id": None, "requested_procedure_id": None, "station_name": "MRI-A"},
    )
    requests = [
        query({"PatientName": "", "PatientID": "", "PatientWeight": "", "PatientState": "",
               "SpecificCharacterSet": "ISO_IR 100", "ReferencedStudySequence": Sequence()},
              {"ScheduledStationAETitle": "", "ScheduledProcedureStepStartDate": "", "Modality": ""}),
        query({"AccessionNumber": "", "RequestedProcedureCodeSequence": Sequence()}, {}),
    ]
    for item in items:
        for request in requests:
            assert_as_pydicom(build_response(item, RequestPlan.of(request)))


def find_over(port: int, identifier: Dataset, syntax: str, maximum_pdu: int = 16382) -> tuple[list[Dataset], int]:
    """The pending identifiers of one C-FIND on a context with ``syntax`` only, and how many P-DATA-TF
    PDUs brought the answer."""
    ae = AE(ae_title="ENCODING_TEST")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    ae.add_requested_context(ModalityWorklistInformationFind, [syntax])
    received: list[Any] = []
    assoc = ae.associate("127.0.0.1", port, ae_title="PYLANTIR", max_pdu=maximum_pdu,
                         evt_handlers=[(evt.EVT_PDU_RECV, lambda event: received.append(event.pdu))])
    assert assoc.is_established
    try:
        answers = list(assoc.send_c_find(identifier, ModalityWorklistInformationFind))
    finally:
        assoc.release()
    assert answers[-1][0].Status == 0x0000
    pdus = sum(isinstance(pdu, P_DATA_TF) for pdu in received)
    return [found for status, found in answers[:-1] if status.Status == 0xFF00], pdus


@pytest.mark.parametrize("syntax", [ImplicitVRLittleEndian, ExplicitVRLittleEndian,
                                    DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian])
def test_every_accepted_transfer_syntax_gets_the_same_answer(
    syntax: str, add_items: Callable[..., list[WorklistItem]], serve: Callable[..., RunningServer],
    query: Callable[..., Dataset],
) -> None:
    """Little endian encoded here, the others by pynetdicom: the peer decodes the same responses."""
    items = add_items({"patient_name": "Ødegård^Åse", "station_name": "MRI-A"}, {"patient_name": "Plain^Ascii"})
    request = query({"PatientName": "", "PatientID": "", "SpecificCharacterSet": ""}, {})
    found, pdus = find_over(serve().port, request, syntax)
    little_endian = syntax in (ImplicitVRLittleEndian, ExplicitVRLittleEndian)
    assert pdus == len(items) * (1 if little_endian else 2) + 1  # command and identifier in one PDU
    expected = [build_response(item, RequestPlan.of(request)).dataset() for item in items]
    assert sorted(ds.to_json() for ds in found) == sorted(ds.to_json() for ds in expected)
    assert {str(ds.PatientName) for ds in found} == {"Ødegård^Åse", "Plain^Ascii"}


def test_an_answer_larger_than_the_peers_pdus_is_fragmented(add_items: Callable[..., list[WorklistItem]],
                                                           serve: Callable[..., RunningServer],
                                                           query: Callable[..., Dataset]) -> None:
    """A response over the peer's maximum PDU length arrives whole, in several PDUs."""
    comment = "long comment " * 400
    add_items({"extra_attributes": {"PatientComments": comment}}, {})
    request = query({"PatientID": "", "PatientComments": ""})
    for syntax in (ImplicitVRLittleEndian, ExplicitVRLittleEndian):
        found, pdus = find_over(serve().port, request, syntax, maximum_pdu=1024)
        assert pdus > 7, pdus
        assert sorted(str(ds.PatientComments) for ds in found) == ["", comment.rstrip()]
