"""MPPS N-CREATE / N-SET over real associations: state machine, status codes, persistence, worklist link."""

from __future__ import annotations

import logging
from collections.abc import Callable
from io import BytesIO
from typing import Any

import pytest
from pydicom import Dataset
from pydicom.datadict import tag_for_keyword
from pydicom.sequence import Sequence
from pynetdicom.association import Association
from pynetdicom.dimse_primitives import N_SET
from pynetdicom.dsutils import encode
from pynetdicom.sop_class import ModalityPerformedProcedureStep
from sqlalchemy import select

from pylantir.dicom import RunningServer
from pylantir.dicom.client import Peer, association
from pylantir.store import Database, PerformedProcedureStep, WorklistItem

from .conftest import send_raw_request

UID = "1.2.826.0.1.3680043.10.999.77.1"


def create_dataset(item: WorklistItem | None, status: str = "IN PROGRESS", **top: Any) -> Dataset:
    """An N-CREATE attribute list as a modality sends it for ``item`` (None: unscheduled)."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    step = Dataset()
    step.StudyInstanceUID = item.study_instance_uid if item else "1.2.826.0.1.3680043.10.999.404"
    step.AccessionNumber = item.accession_number if item else ""
    step.RequestedProcedureID = item.requested_procedure_id if item else ""
    step.ScheduledProcedureStepID = item.scheduled_procedure_step_id if item else ""
    step.RequestedProcedureDescription = step.ScheduledProcedureStepDescription = ""
    step.ScheduledProtocolCodeSequence = Sequence()
    step.ReferencedStudySequence = Sequence()
    ds.ScheduledStepAttributesSequence = Sequence([step])
    ds.PatientName = "Müller^Hans"
    ds.PatientID = item.patient_id if item else "EMERGENCY"
    ds.PatientBirthDate = ds.PatientSex = ""
    ds.ReferencedPatientSequence = Sequence()
    ds.PerformedProcedureStepID = "PPS1"
    ds.PerformedStationAETitle = "MR1"
    ds.PerformedStationName = ds.PerformedLocation = ""
    ds.PerformedProcedureStepStartDate = "20260105"
    ds.PerformedProcedureStepStartTime = "101500"
    ds.PerformedProcedureStepStatus = status
    ds.PerformedProcedureStepDescription = ds.PerformedProcedureTypeDescription = ""
    ds.ProcedureCodeSequence = Sequence()
    ds.PerformedProcedureStepEndDate = ds.PerformedProcedureStepEndTime = ""
    ds.Modality = "MR"
    ds.StudyID = ""
    ds.PerformedProtocolCodeSequence = Sequence()
    ds.PerformedSeriesSequence = Sequence()
    for keyword, value in top.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    return ds


def final_dataset(status: str = "COMPLETED", series: bool = True) -> Dataset:
    """An N-SET modification list ending the step."""
    ds = Dataset()
    ds.PerformedProcedureStepStatus = status
    ds.PerformedProcedureStepEndDate = "20260105"
    ds.PerformedProcedureStepEndTime = "104500"
    items = []
    if series:
        item = Dataset()
        item.SeriesInstanceUID = "1.2.826.0.1.3680043.10.999.88.1"
        item.ProtocolName = "T1"
        item.ReferencedImageSequence = Sequence()
        item.ReferencedNonImageCompositeSOPInstanceSequence = Sequence()
        items.append(item)
    ds.PerformedSeriesSequence = Sequence(items)
    return ds


def n_create(assoc: Association, ds: Dataset, uid: str = UID) -> tuple[int, Dataset]:
    """Send N-CREATE; (status, status dataset)."""
    status, _attributes = assoc.send_n_create(ds, ModalityPerformedProcedureStep, uid)
    return int(status.Status), status


def n_set(assoc: Association, ds: Dataset, uid: str = UID) -> tuple[int, Dataset]:
    """Send N-SET; (status, status dataset)."""
    status, _attributes = assoc.send_n_set(ds, ModalityPerformedProcedureStep, uid)
    return int(status.Status), status


def stored(database: Database, uid: str = UID) -> PerformedProcedureStep | None:
    """The persisted instance."""
    with database.session() as session:
        return session.get(PerformedProcedureStep, uid)


def item_status(database: Database, item: WorklistItem) -> tuple[str, bool]:
    """The worklist item's SPS status and whether MPPS owns it."""
    with database.session() as session:
        current = session.get(WorklistItem, item.id)
        assert current is not None
        return current.scheduled_procedure_step_status, current.status_from_mpps


@pytest.fixture
def item(add_items: Callable[..., list[WorklistItem]]) -> WorklistItem:
    """One scheduled item, and a decoy sharing nothing with it."""
    return add_items({}, {})[0]


def test_create_then_complete_updates_the_worklist(item: WorklistItem, peer: Peer, database: Database) -> None:
    """IN PROGRESS marks the item STARTED; COMPLETED marks it COMPLETED; both owned by MPPS."""
    with association(peer, ModalityPerformedProcedureStep) as assoc:
        assert n_create(assoc, create_dataset(item))[0] == 0x0000
        instance = stored(database)
        assert instance is not None and instance.status == "IN PROGRESS"
        assert instance.worklist_item_id == item.id and instance.calling_ae_title == "PYLANTIR_SCU"
        assert item_status(database, item) == ("STARTED", True)
        assert n_set(assoc, final_dataset())[0] == 0x0000
    assert item_status(database, item) == ("COMPLETED", True)
    instance = stored(database)
    assert instance is not None and instance.status == "COMPLETED"
    assert instance.attributes["00100010"]["Value"][0]["Alphabetic"] == "Müller^Hans"
    assert instance.attributes["00400340"]["Value"][0]["00181030"]["Value"] == ["T1"]


def test_discontinued_and_final_states_are_final(item: WorklistItem, peer: Peer, database: Database) -> None:
    """After DISCONTINUED any N-SET gets 0110 with Error ID A710."""
    with association(peer, ModalityPerformedProcedureStep) as assoc:
        n_create(assoc, create_dataset(item))
        assert n_set(assoc, final_dataset("DISCONTINUED"))[0] == 0x0000
        code, status = n_set(assoc, final_dataset("IN PROGRESS"))
    assert code == 0x0110
    assert status.ErrorID == 0xA710
    assert status.ErrorComment == "Performed Procedure Step Object may no longer be updated"
    assert item_status(database, item) == ("DISCONTINUED", True)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"PerformedProcedureStepStatus": "COMPLETED"}, 0x0106),
        ({"PerformedProcedureStepID": None}, 0x0120),
        ({"PerformedSeriesSequence": None}, 0x0120),
        ({"Modality": ""}, 0x0121),
    ],
    ids=["not-in-progress", "missing-type1", "missing-type2", "empty-type1"],
)
def test_create_refusals(item: WorklistItem, peer: Peer, database: Database, change: dict[str, Any],
                         expected: int) -> None:
    """Invalid N-CREATEs get the PS3.7 status, and nothing is stored."""
    with association(peer, ModalityPerformedProcedureStep) as assoc:
        code, status = n_create(assoc, create_dataset(item, **change))
    assert code == expected
    assert next(iter(change)) in status.ErrorComment
    assert stored(database) is None
    assert item_status(database, item) == ("SCHEDULED", False)


def test_duplicate_create_is_0111(item: WorklistItem, peer: Peer) -> None:
    """A second N-CREATE with the same SOP Instance UID is refused."""
    with association(peer, ModalityPerformedProcedureStep) as assoc:
        assert n_create(assoc, create_dataset(item))[0] == 0x0000
        assert n_create(assoc, create_dataset(item))[0] == 0x0111


def test_set_unknown_instance_is_0112(peer: Peer) -> None:
    """N-SET for an instance never created."""
    with association(peer, ModalityPerformedProcedureStep) as assoc:
        assert n_set(assoc, final_dataset(), "1.2.3.4.5.6")[0] == 0x0112


@pytest.mark.parametrize(
    ("modification", "expected"),
    [({"series": False}, 0x0121), ({"end_time": ""}, 0x0121), ({"status": "PAUSED"}, 0x0106)],
    ids=["no-series", "no-end-time", "unknown-status"],
)
def test_final_state_requirements(item: WorklistItem, peer: Peer, database: Database,
                                  modification: dict[str, Any], expected: int) -> None:
    """Completing needs end date/time and a performed series; unknown statuses are invalid."""
    ds = final_dataset(modification.get("status", "COMPLETED"), series=modification.get("series", True))
    if "end_time" in modification:
        ds.PerformedProcedureStepEndTime = modification["end_time"]
    with association(peer, ModalityPerformedProcedureStep) as assoc:
        n_create(assoc, create_dataset(item))
        code, status = n_set(assoc, ds)
        assert code == expected
        assert "AttributeIdentifierList" in status
        instance = stored(database)
        assert instance is not None and instance.status == "IN PROGRESS"
        assert n_set(assoc, final_dataset())[0] == 0x0000


# Every attribute whose N-SET usage is "Not allowed" (Table F.7.2-1), with a value an N-SET tries to give it.
NOT_SETTABLE_CHANGES: dict[str, Any] = {
    "PatientName": "Someone^Else", "PatientID": "OTHER-ID", "PatientBirthDate": "19991231", "PatientSex": "F",
    "IssuerOfPatientID": "OTHER-ISSUER", "ReferencedPatientSequence": [{"ReferencedSOPInstanceUID": "1.2.3"}],
    "ScheduledStepAttributesSequence": [{"StudyInstanceUID": "1.2.3.4.5"}], "PerformedProcedureStepID": "PPS2",
    "PerformedStationAETitle": "CT9", "PerformedStationName": "Elsewhere", "PerformedLocation": "Room 9",
    "PerformedProcedureStepStartDate": "20260106", "PerformedProcedureStepStartTime": "080000", "Modality": "CT",
    "StudyID": "S9",
}


def test_not_settable_list_is_the_standards() -> None:
    """The test above covers the whole "Not allowed" list (Specific Character Set is decoding, not data)."""
    from pylantir.dicom.mpps import NOT_SETTABLE

    assert set(NOT_SETTABLE) - {"SpecificCharacterSet"} == set(NOT_SETTABLE_CHANGES)


def test_not_settable_attributes_are_ignored(item: WorklistItem, peer: Peer, database: Database) -> None:
    """An N-SET cannot overwrite Patient ID or any other "Not allowed" attribute: the stored values stay, the
    response does not list them, and the linked worklist item keeps its patient."""
    ds = final_dataset()
    for keyword, value in NOT_SETTABLE_CHANGES.items():
        if isinstance(value, list):
            value = Sequence([_item_of(entry) for entry in value])
        setattr(ds, keyword, value)
    ds.PerformedProcedureStepDescription = "done"
    with association(peer, ModalityPerformedProcedureStep) as assoc:
        n_create(assoc, create_dataset(item))
        before = stored(database)
        assert before is not None
        status, attributes = assoc.send_n_set(ds, ModalityPerformedProcedureStep, UID)
        assert status.Status == 0x0000
    instance = stored(database)
    assert instance is not None and instance.status == "COMPLETED"
    for keyword in NOT_SETTABLE_CHANGES:
        tag = f"{tag_for_keyword(keyword):08X}"
        assert instance.attributes.get(tag) == before.attributes.get(tag), keyword
        assert keyword not in attributes
    assert instance.attributes["00400254"]["Value"] == ["done"]
    with database.session() as session:
        current = session.get(WorklistItem, item.id)
        assert current is not None and current.patient_id == item.patient_id


def _item_of(values: dict[str, Any]) -> Dataset:
    entry = Dataset()
    for keyword, value in values.items():
        setattr(entry, keyword, value)
    return entry


def raw_n_set(assoc: Association, data: bytes, uid: str = UID) -> Any:
    """An N-SET whose modification list is exactly ``data``; the response primitive."""
    request = N_SET()
    request.MessageID = 5
    request.RequestedSOPClassUID = ModalityPerformedProcedureStep
    request.RequestedSOPInstanceUID = uid
    request.ModificationList = BytesIO(data)
    [response] = send_raw_request(assoc, request)
    return response


def _encoded(assoc: Association, ds: Dataset) -> bytes:
    syntax = assoc.accepted_contexts[0].transfer_syntax[0]
    data = encode(ds, syntax.is_implicit_VR, syntax.is_little_endian)
    assert data is not None
    return data


@pytest.mark.parametrize("corrupt", ["cut-in-a-value", "cut-in-a-header", "trailing-bytes", "cut-in-a-sequence"])
def test_a_corrupt_n_set_is_refused_and_stores_nothing(item: WorklistItem, peer: Peer, database: Database,
                                                       corrupt: str, caplog: pytest.LogCaptureFixture) -> None:
    """An N-SET modification list that is not whole data elements gets 0106 (never Success with nothing
    stored); the instance and the worklist are unchanged, and the modality can send it again whole."""
    with association(peer, ModalityPerformedProcedureStep) as assoc:
        n_create(assoc, create_dataset(item))
        before = stored(database)
        whole = _encoded(assoc, final_dataset())
        series = whole.find(b"\x40\x00\x40\x03")  # (0040,0340) Performed Series Sequence
        assert series > 0
        data = {
            "cut-in-a-value": whole[:-1],
            "cut-in-a-header": whole[:5],
            "trailing-bytes": whole + b"\x40\x00\x52",
            "cut-in-a-sequence": whole[: series + 20],
        }[corrupt]
        response = raw_n_set(assoc, data)
        assert response.Status == 0x0106 and "modification list cannot be decoded" in response.ErrorComment
        after = stored(database)
        assert after is not None and after.status == "IN PROGRESS" and after.attributes == before.attributes
        assert item_status(database, item) == ("STARTED", True)
        assert raw_n_set(assoc, whole).Status == 0x0000
    assert item_status(database, item) == ("COMPLETED", True)
    [warning] = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("pylantir")]
    assert "N-SET" in warning.getMessage() and warning.exc_info is None


def test_unscheduled_mpps_is_recorded(item: WorklistItem, peer: Peer, database: Database) -> None:
    """An MPPS referencing no worklist item is stored without a link and touches no item."""
    with association(peer, ModalityPerformedProcedureStep) as assoc:
        assert n_create(assoc, create_dataset(None))[0] == 0x0000
    instance = stored(database)
    assert instance is not None and instance.worklist_item_id is None
    assert item_status(database, item) == ("SCHEDULED", False)


def test_link_needs_every_id_to_agree(add_items: Callable[..., list[WorklistItem]], peer: Peer,
                                      database: Database) -> None:
    """Two steps of one study: the SPS ID picks the right one (never the patient alone)."""
    first, second = add_items({"study_instance_uid": "1.2.3.9"}, {"study_instance_uid": "1.2.3.9"})
    with association(peer, ModalityPerformedProcedureStep) as assoc:
        ds = create_dataset(second)
        ds.ScheduledStepAttributesSequence[0].AccessionNumber = ""
        assert n_create(assoc, ds)[0] == 0x0000
    assert item_status(database, second) == ("STARTED", True)
    assert item_status(database, first) == ("SCHEDULED", False)


def test_restart_between_create_and_set(item: WorklistItem, serve: Callable[..., RunningServer],
                                        database: Database) -> None:
    """A new server on the same database completes a step created before the restart."""
    first = serve()
    with association(Peer("127.0.0.1", first.port), ModalityPerformedProcedureStep) as assoc:
        n_create(assoc, create_dataset(item))
    first.shutdown()
    reopened = Database.open(database.url.render_as_string(hide_password=False))
    from pylantir.config import PylantirConfig
    from pylantir.dicom import start_server

    second = start_server(PylantirConfig(), reopened, port=0)
    try:
        with association(Peer("127.0.0.1", second.port), ModalityPerformedProcedureStep) as assoc:
            assert n_set(assoc, final_dataset())[0] == 0x0000
    finally:
        second.shutdown()
        reopened.close()
    assert item_status(database, item) == ("COMPLETED", True)


def test_create_without_instance_uid_gets_one(item: WorklistItem, peer: Peer, database: Database) -> None:
    """When the SCU leaves the SOP Instance UID out, the SCP creates one and returns it."""
    with association(peer, ModalityPerformedProcedureStep) as assoc:
        status, _attributes = assoc.send_n_create(create_dataset(item), ModalityPerformedProcedureStep, None)
    assert status.Status == 0x0000
    with database.session() as session:
        [instance] = session.scalars(select(PerformedProcedureStep)).all()
    assert instance.sop_instance_uid.startswith("1.2.") and instance.worklist_item_id == item.id
