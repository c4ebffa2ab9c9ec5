"""Hostile C-FIND identifiers over real associations: wrong VRs, oversized values, impossible dates and
times, bytes that are not whole data elements. Each is refused with A900 naming the offending element, in one
WARNING line that quotes no value; nothing is matched wrongly or dropped silently."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import BytesIO
from typing import Any

import pytest
from pydicom import Dataset
from pydicom.config import IGNORE
from pydicom.dataelem import DataElement
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE
from pynetdicom.association import Association
from pynetdicom.dimse_primitives import C_FIND
from pynetdicom.dsutils import encode
from pynetdicom.sop_class import ModalityWorklistInformationFind

from pylantir.dicom.client import Peer, find_on
from pylantir.store import WorklistItem

from .conftest import explicit_element, send_raw_request

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
A900 = 0xA900
SPS = 0x00400100
START_DATE, START_TIME = 0x00400002, 0x00400003


@pytest.fixture
def items(add_items: Callable[..., list[WorklistItem]]) -> list[WorklistItem]:
    """Three items; P1 born 1980-01-01."""
    return add_items(
        {"patient_id": "P1", "patient_name": "Doe^John", "patient_birth_date": "19800101",
         "requested_procedure_id": "RP1"},
        {"patient_id": "P2", "patient_name": "Doe^Jane", "patient_birth_date": "19900202"},
        {"patient_id": "20260101", "patient_name": "Date^Like"},
    )


@contextmanager
def on(peer: Peer, transfer_syntax: str = ExplicitVRLittleEndian) -> Iterator[Association]:
    """An association whose only presentation context uses ``transfer_syntax``."""
    ae = AE(ae_title="FUZZ1")
    ae.add_requested_context(ModalityWorklistInformationFind, transfer_syntax)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    assoc = ae.associate(peer.host, peer.port)
    assert assoc.is_established
    try:
        yield assoc
    finally:
        assoc.release()


def identifier(*elements: DataElement, sps: list[DataElement] | None = None) -> Dataset:
    """An identifier holding exactly ``elements`` (any VR, unvalidated), plus an SPS item when given."""
    dataset = Dataset()
    for element in elements:
        dataset.add(element)
    if sps is not None:
        step = Dataset()
        for element in sps:
            step.add(element)
        dataset.ScheduledProcedureStepSequence = Sequence([step])
    return dataset


def element(tag: int, vr: str, value: Any) -> DataElement:
    """A data element with any VR and value, as a hostile peer would send it."""
    return DataElement(tag, vr, value, validation_mode=IGNORE)


def offending(status: Dataset) -> list[int]:
    """The status's Offending Element tags (pydicom returns one tag, not a list, for one value)."""
    value = status.OffendingElement
    return [int(value)] if isinstance(value, int) else [int(tag) for tag in value]


def refusal(peer: Peer, query: Dataset, caplog: pytest.LogCaptureFixture) -> tuple[Dataset, str]:
    """Send ``query``; assert a single A900 answer and one WARNING line; (status, that line)."""
    caplog.clear()
    with on(peer) as assoc:
        responses = list(assoc.send_c_find(query, ModalityWorklistInformationFind))
    assert len(responses) == 1
    status, answer = responses[0]
    assert status.Status == A900 and answer is None
    [warning] = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("pylantir")]
    assert warning.exc_info is None and "FUZZ1" in warning.getMessage()
    return status, warning.getMessage()


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("tag", "vr", "value"),
    [(0x00100020, "DA", "20260101-"), (0x00401001, "DA", "20260101"), (0x00100030, "ST", "19800101"),
     (0x00100010, "LO", "Doe^John")],
    ids=["PatientID-as-DA", "RequestedProcedureID-as-DA", "PatientBirthDate-as-ST", "PatientName-as-LO"],
)
def test_a_key_with_the_wrong_vr_is_refused(items: list[WorklistItem], peer: Peer, tag: int, vr: str, value: str,
                                           caplog: pytest.LogCaptureFixture) -> None:
    """Explicit VR: a key carrying a value with a VR other than its dictionary VR is refused (never matched
    by the VR it came with: Patient ID as DA '20260101-' used to return every item)."""
    status, line = refusal(peer, identifier(element(tag, vr, value)), caplog)
    assert offending(status) == [tag]
    assert f"sent with VR {vr}" in status.ErrorComment and f"sent with VR {vr}" in line
    assert value not in line


@SQLITE_ONLY
def test_an_empty_key_with_the_wrong_vr_is_a_return_key(items: list[WorklistItem], peer: Peer) -> None:
    """A zero-length key with another VR only asks for the attribute: returned with its dictionary VR."""
    query = identifier(element(0x00100010, "PN", "Doe^John"), element(0x00100020, "DA", ""),
                       element(0x00100030, "ST", ""))
    with on(peer) as assoc:
        responses = find_on(assoc, query)
    assert [code for code, _ in responses] == [0xFF00, 0x0000]
    answer = responses[0][1]
    assert answer is not None
    assert (answer["PatientID"].VR, answer.PatientID) == ("LO", "P1")
    assert (answer["PatientBirthDate"].VR, answer.PatientBirthDate) == ("DA", "19800101")


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("tag", "vr", "value", "why"),
    [(0x00100010, "PN", "*" + "x" * 10_000 + "*", "PN allows"), (0x00100020, "LO", "P" * 65, "LO allows (64)"),
     (0x00080050, "SH", "A" * 17, "SH allows (16)"), (0x0020000D, "UI", ["1.2.3"] * 1001, "more than 1000 values")],
    ids=["10k-wildcard-name", "65-char-LO", "17-char-SH", "1001-UIDs"],
)
def test_oversized_values_are_refused_before_sql(items: list[WorklistItem], peer: Peer, tag: int, vr: str,
                                                 value: Any, why: str, caplog: pytest.LogCaptureFixture) -> None:
    """Values longer than their VR allows (or too many values) get A900, not a database error; no log line
    at any level carries the value."""
    caplog.set_level(logging.DEBUG)
    status, line = refusal(peer, identifier(element(tag, vr, value)), caplog)
    assert offending(status) == [tag] and why in status.ErrorComment + line
    assert "xxxxxxxxxx" not in caplog.text and "P" * 65 not in caplog.text


@SQLITE_ONLY
def test_values_at_their_maximum_length_are_matched(items: list[WorklistItem], peer: Peer) -> None:
    """The limits are the VR's own: 64 characters of LO and a 1000-UID list are fine."""
    query = identifier(element(0x00100020, "LO", "P" * 64), element(0x0020000D, "UI", ["1.2.3"] * 1000))
    with on(peer) as assoc:
        assert find_on(assoc, query) == [(0x0000, None)]


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("sps", "top", "expected"),
    [
        ({START_DATE: "20261301"}, {}, START_DATE),
        ({START_DATE: "20260230"}, {}, START_DATE),
        ({START_DATE: "00000000"}, {}, START_DATE),
        ({START_DATE: "20260101-20261301"}, {}, START_DATE),
        ({START_TIME: "10.5"}, {}, START_TIME),
        ({START_TIME: "2460"}, {}, START_TIME),
        ({START_DATE: "20260105", START_TIME: "1000-1075"}, {}, START_TIME),
        ({}, {0x00100030: "20260230"}, 0x00100030),
    ],
    ids=["month-13", "feb-30", "zeros", "range-end", "time-10.5", "minute-60", "time-range", "birth-feb-30"],
)
def test_impossible_dates_and_times_are_refused(items: list[WorklistItem], peer: Peer, sps: dict[int, str],
                                                top: dict[int, str], expected: int,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """A date or time key that is no calendar date or time of day gets A900 with the offending element."""
    vrs = {START_DATE: "DA", START_TIME: "TM", 0x00100030: "DA"}
    query = identifier(*(element(tag, vrs[tag], value) for tag, value in top.items()),
                       sps=[element(tag, vrs[tag], value) for tag, value in sps.items()])
    status, _line = refusal(peer, query, caplog)
    assert offending(status) == [expected]


@SQLITE_ONLY
@pytest.mark.parametrize(("date", "time"), [("20280229", ""), ("", "235960"), ("", "10"), ("", "101500.5")])
def test_real_dates_and_times_are_accepted(items: list[WorklistItem], peer: Peer, date: str, time: str) -> None:
    """Leap days, the leap second, partial times and fractions after the seconds are valid keys."""
    query = identifier(sps=[element(START_DATE, "DA", date), element(START_TIME, "TM", time)])
    with on(peer) as assoc:
        assert find_on(assoc, query)[-1][0] == 0x0000


def _whole() -> bytes:
    """A valid Explicit VR Little Endian identifier: PatientID, PatientName, an SPS item with Modality."""
    step = explicit_element(0x00080060, "CS", b"MR")
    item = b"\xfe\xff\x00\xe0" + len(step).to_bytes(4, "little") + step
    return (explicit_element(0x00100010, "PN", b"") + explicit_element(0x00100020, "LO", b"P1")
            + explicit_element(SPS, "SQ", item))


CORRUPT = {
    "cut-in-a-value": _whole()[:-1],
    "cut-in-a-header": _whole()[:13],
    "trailing-bytes": _whole() + b"\x10\x00\x20",
    "no-valid-vr": explicit_element(0x00100020, "LO", b"P1").replace(b"LO", b"\x00\x01"),
    "undefined-length-text": b"\x10\x00\x20\x00LO\x00\x00" + b"\xff\xff\xff\xff" + b"P1",
    "item-tag-wrong": explicit_element(SPS, "SQ", b"\x10\x00\x20\x00" + b"\x00" * 4),
    "too-deep": b"".join(b"\x40\x00\x00\x01SQ\x00\x00\xff\xff\xff\xff\xfe\xff\x00\xe0\xff\xff\xff\xff"
                         for _ in range(20)),
}


def raw_find(assoc: Association, data: bytes) -> list[Any]:
    """Send a C-FIND whose identifier is exactly ``data``; every response primitive."""
    request = C_FIND()
    request.MessageID = 1
    request.AffectedSOPClassUID = ModalityWorklistInformationFind
    request.Priority = 2
    request.Identifier = BytesIO(data)
    return send_raw_request(assoc, request)


@SQLITE_ONLY
def test_raw_path_answers_a_whole_identifier(items: list[WorklistItem], peer: Peer) -> None:
    """The raw sender itself works: the uncorrupted bytes are answered with the match."""
    with on(peer) as assoc:
        assert [r.Status for r in raw_find(assoc, _whole())] == [0xFF00, 0x0000]


@SQLITE_ONLY
@pytest.mark.parametrize("data", CORRUPT.values(), ids=CORRUPT.keys())
def test_undecodable_identifiers_are_a900_in_one_warning(items: list[WorklistItem], peer: Peer, data: bytes,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    """Bytes that are not whole data elements get A900 (as docs/conformance.md says), the association stays
    usable, and the log has one WARNING line with the calling AE and the reason, the traceback only at DEBUG."""
    caplog.set_level(logging.DEBUG)
    with on(peer) as assoc:
        [response] = raw_find(assoc, data)
        assert response.Status == A900 and "cannot be decoded" in response.ErrorComment
        assert [r.Status for r in raw_find(assoc, _whole())] == [0xFF00, 0x0000]
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("pylantir")]
    assert len(warnings) == 1 and warnings[0].exc_info is None
    assert "FUZZ1" in warnings[0].getMessage() and "A900" in warnings[0].getMessage()


@SQLITE_ONLY
def test_an_implicit_vr_identifier_cut_short_is_a900(items: list[WorklistItem], peer: Peer) -> None:
    """The framing check follows the negotiated transfer syntax (here Implicit VR Little Endian)."""
    query = identifier(element(0x00100020, "LO", "P1"), element(0x00100010, "PN", ""))
    data = encode(query, True, True)
    assert data is not None
    with on(peer, ImplicitVRLittleEndian) as assoc:
        assert [r.Status for r in raw_find(assoc, data)] == [0xFF00, 0x0000]
        assert [r.Status for r in raw_find(assoc, data[:-2])] == [A900]


@pytest.mark.dcmtk
@SQLITE_ONLY
def test_findscu_sees_a900_for_an_impossible_date(items: list[WorklistItem], peer: Peer, dcmtk: Any) -> None:
    """dcmtk's findscu, an independent client, gets A900 for month 13."""
    result = dcmtk("findscu", "-v", "-W", "-aet", "MR1", "-aec", "PYLANTIR", "-k", "PatientID",
                   "-k", "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=20261301",
                   peer.host, str(peer.port))
    # dcmtk's name for A900
    assert "Received Final Find Response (Error: DataSetDoesNotMatchSOPClass)" in result.stdout + result.stderr
