"""C-FIND matching over real associations on loopback: every matching type of PS3.4 C.2.2.2."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from pydicom import Dataset
from pydicom.sequence import Sequence
from pynetdicom.sop_class import ModalityWorklistInformationFind

from pylantir.dicom.client import Peer, association, find, find_on
from pylantir.store import WorklistItem

WORKLIST = [
    {"patient_id": "P1", "patient_name": "Doe^John", "date": "20260105", "time": "100000",
     "performing_physician": "House^Gregory", "study_instance_uid": "1.2.3.1"},
    {"patient_id": "P2", "patient_name": "Doe^Jane", "date": "20260105", "time": "143000", "modality": "CT",
     "scheduled_station_aetitle": "CT1", "study_instance_uid": "1.2.3.2", "accession_number": None},
    {"patient_id": "P3", "patient_name": "Müller^Hans", "date": "20260106", "time": "090000",
     "study_instance_uid": "1.2.3.3"},
    {"patient_id": "P4", "patient_name": "Smith^Anna", "date": "20260107", "time": "170000",
     "scheduled_station_aetitle": "MR2", "study_instance_uid": "1.2.3.4"},
    {"patient_id": "P5", "patient_name": "Done^Already", "date": "20260105", "time": "110000",
     "scheduled_procedure_step_status": "COMPLETED", "study_instance_uid": "1.2.3.5"},
    {"patient_id": "P6", "patient_name": "Under_Score%", "date": "20260108", "time": "080000",
     "study_instance_uid": "1.2.3.6"},
]


@pytest.fixture
def items(add_items: Callable[..., list[WorklistItem]]) -> list[WorklistItem]:
    """The worklist above (P5 is COMPLETED, so not offered by default)."""
    return add_items(*WORKLIST)


def patient_ids(peer: Peer, identifier: Dataset) -> list[str]:
    """Ask for PatientID too and return the matches' IDs in answer order."""
    if "PatientID" not in identifier:
        identifier.PatientID = ""
    return [str(r.PatientID) for r in find(peer, identifier)]


CASES = [
        # single value and universal
        ({"PatientID": "P3"}, None, ["P3"]),
        ({"PatientID": ""}, None, ["P1", "P2", "P3", "P4", "P6"]),
        ({"PatientName": "*"}, None, ["P1", "P2", "P3", "P4", "P6"]),
        # PN: case-insensitive by default, trailing empty components ignored, Unicode case folding
        ({"PatientName": "doe^john"}, None, ["P1"]),
        ({"PatientName": "Doe^John^^"}, None, ["P1"]),
        ({"PatientName": "MÜLLER^HANS"}, None, ["P3"]),
        # wild cards, with SQL's own wild cards taken literally
        ({"PatientName": "Doe^*"}, None, ["P1", "P2"]),
        ({"PatientName": "d?e^ja*"}, None, ["P2"]),
        ({"PatientName": "*ller*"}, None, ["P3"]),
        ({"PatientName": "Under_*"}, None, ["P6"]),
        ({"PatientName": "Under?Score%"}, None, ["P6"]),
        ({"PatientName": "Under%"}, None, []),
        ({"PatientName": "Doe_John"}, None, []),
        # list of UID
        ({"StudyInstanceUID": ["1.2.3.1", "1.2.3.4", "9.9"]}, None, ["P1", "P4"]),
        # zero-length stored value fails a non-universal key
        ({"AccessionNumber": "ACC*"}, None, ["P1", "P3", "P4", "P6"]),
        # sequence matching inside the Scheduled Procedure Step Sequence
        (None, {"Modality": "MR", "ScheduledStationAETitle": "MR1"}, ["P1", "P3", "P6"]),
        (None, {"Modality": "mr"}, []),
        (None, {"ScheduledStationAETitle": "CT*"}, ["P2"]),
        (None, {"ScheduledPerformingPhysicianName": "house*"}, ["P1"]),
        (None, {}, ["P1", "P2", "P3", "P4", "P6"]),
        # dates: single value and ranges
        (None, {"ScheduledProcedureStepStartDate": "20260105"}, ["P1", "P2"]),
        (None, {"ScheduledProcedureStepStartDate": "20260105-20260106"}, ["P1", "P2", "P3"]),
        (None, {"ScheduledProcedureStepStartDate": "-20260105"}, ["P1", "P2"]),
        (None, {"ScheduledProcedureStepStartDate": "20260107-"}, ["P4", "P6"]),
        # date range + time range = one date-time interval (Jan 5 12:00 until Jan 7 18:00)
        (None, {"ScheduledProcedureStepStartDate": "20260105-20260107",
                "ScheduledProcedureStepStartTime": "120000-180000"}, ["P2", "P3", "P4"]),
        (None, {"ScheduledProcedureStepStartDate": "20260105", "ScheduledProcedureStepStartTime": "1200-"},
         ["P2"]),
        (None, {"ScheduledProcedureStepStartDate": "20260105", "ScheduledProcedureStepStartTime": "10"}, ["P1"]),
        # time range alone matches the time of day on any date
        (None, {"ScheduledProcedureStepStartTime": "080000-100000"}, ["P6", "P3", "P1"]),
        # the configured statuses bound what is offered; a status key narrows further
        (None, {"ScheduledProcedureStepStatus": "COMPLETED"}, []),
]


def check_case(peer: Peer, query: Callable[..., Dataset], top: Any, sps: Any, expected: list[str]) -> None:
    """One case: the expected IDs, in start order (a time-of-day match spans dates, so any order)."""
    result = patient_ids(peer, query(top, sps))
    if sps and "ScheduledProcedureStepStartTime" in sps and "ScheduledProcedureStepStartDate" not in sps:
        result, expected = sorted(result), sorted(expected)
    assert result == expected, f"top={top} sps={sps}"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("top", "sps", "expected"), CASES)
def test_matching_types(items: Any, peer: Peer, query: Callable[..., Dataset], top: Any, sps: Any,
                        expected: list[str]) -> None:
    """Each matching type selects exactly the expected offered items, ordered by start date-time."""
    check_case(peer, query, top, sps, expected)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_matching_types_on_postgresql(items: Any, peer: Peer, query: Callable[..., Dataset]) -> None:
    """The same cases against PostgreSQL (LIKE escaping, lower(), ranges), on one database."""
    for top, sps, expected in CASES:
        check_case(peer, query, top, sps, expected)


def test_case_sensitive_names_when_configured(items: Any, serve: Any, query: Callable[..., Dataset]) -> None:
    """server.case_insensitive_names = false makes PN matching exact."""
    peer = Peer("127.0.0.1", serve(case_insensitive_names=False).port)
    assert patient_ids(peer, query({"PatientName": "doe^john"})) == []
    assert patient_ids(peer, query({"PatientName": "Doe^J*"})) == ["P1", "P2"]
    assert patient_ids(peer, query({"PatientName": "doe*"})) == []


def test_configured_worklist_statuses(items: Any, serve: Any, query: Callable[..., Dataset]) -> None:
    """Only steps in server.worklist_statuses are offered."""
    peer = Peer("127.0.0.1", serve(worklist_statuses=["COMPLETED"]).port)
    assert patient_ids(peer, query({"PatientID": ""})) == ["P5"]


def test_unmatched_optional_key_warns_with_ff01(items: Any, peer: Peer, query: Callable[..., Dataset]) -> None:
    """A key with a value we do not match on is ignored for matching and flagged FF01 (K.4.1.3)."""
    with association(peer, ModalityWorklistInformationFind) as assoc:
        responses = find_on(assoc, query({"PatientID": "P1", "PatientWeight": "70"}))
    assert [status for status, _ in responses] == [0xFF01, 0x0000]
    assert responses[0][1].PatientWeight is None
    assert responses[-1][1] is None


@pytest.mark.parametrize(
    "identifier",
    [
        {"sps": {"ScheduledProcedureStepStartDate": "2026-01-05"}},
        {"sps": {"ScheduledProcedureStepStartTime": "250000"}},
        {"sps": {"ScheduledProcedureStepStartDate": "20260105-20260106-20260107"}},
        {"two_items": True},
    ],
    ids=["bad-date", "bad-time", "bad-range", "two-sps-items"],
)
def test_unprocessable_identifier_fails_a900_without_identifier(
    items: Any, peer: Peer, query: Callable[..., Dataset], identifier: dict[str, Any]
) -> None:
    """A900 and no identifier; the association stays usable."""
    request = query({"PatientID": ""}, identifier.get("sps"))
    if identifier.get("two_items"):
        request.ScheduledProcedureStepSequence = Sequence([Dataset(), Dataset()])
    with association(peer, ModalityWorklistInformationFind) as assoc:
        responses = find_on(assoc, request)
        assert responses == [(0xA900, None)]
        assert [s for s, _ in find_on(assoc, query({"PatientID": "P1"}))] == [0xFF00, 0x0000]


def test_no_match_is_a_single_success(items: Any, peer: Peer, query: Callable[..., Dataset]) -> None:
    """No matches: one Success, no Pending (K.4.1.3 note 2)."""
    with association(peer, ModalityWorklistInformationFind) as assoc:
        assert find_on(assoc, query({"PatientID": "NOBODY"})) == [(0x0000, None)]


# Runs in its own process, so that the server's threads do not hold the client's C-CANCEL back (one GIL).
CANCELLING_CLIENT = """
import json, sys
from pydicom import Dataset
from pynetdicom.sop_class import ModalityWorklistInformationFind
from pylantir.dicom.client import Peer, association
identifier = Dataset()
identifier.PatientID = ""
statuses = []
with association(Peer("127.0.0.1", int(sys.argv[1])), ModalityWorklistInformationFind) as assoc:
    context_id = assoc.accepted_contexts[0].context_id
    for status, _ in assoc.send_c_find(identifier, ModalityWorklistInformationFind, msg_id=7):
        statuses.append(int(status.Status))
        if len(statuses) == 1:
            assoc.send_c_cancel(7, context_id)
print(json.dumps(statuses))
"""


def test_c_cancel_answers_fe00(add_items: Callable[..., list[WorklistItem]], peer: Peer) -> None:
    """After a C-CANCEL the server stops matching and answers Cancel (FE00).

    The client cancels on its first Pending response. On a loaded machine the server may have sent every
    response before the cancel arrives (then a plain Success is the right answer), so the query is repeated
    until a cancel lands in time; every attempt must be one of the two correct outcomes.
    """
    items = 3000
    add_items(*({"date": "20260110"} for _ in range(items)))
    outcomes = []
    for _attempt in range(3):
        result = subprocess.run([sys.executable, "-c", CANCELLING_CLIENT, str(peer.port)], check=True,
                                capture_output=True, text=True, timeout=120)
        statuses = json.loads(result.stdout)
        assert set(statuses[:-1]) == {0xFF00}
        assert (statuses[-1], len(statuses) < items + 1) in {(0xFE00, True), (0x0000, False)}
        outcomes.append(statuses[-1])
        if statuses[-1] == 0xFE00:
            break
    assert outcomes[-1] == 0xFE00, f"no C-CANCEL was honoured in {len(outcomes)} attempts"
