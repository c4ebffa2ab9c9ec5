"""The Modality Performed Procedure Step service over real HTTP against a running ``pylantir run``: create,
update to COMPLETED and DISCONTINUED, retrieve, the refusals, and steps that mix DICOMweb and DIMSE."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
from pydicom import Dataset
from sqlalchemy import select

from pylantir.dicom.client import Peer, mpps_final, mpps_in_progress
from pylantir.store import AuditEvent, WorklistItem

from ..dicom.test_mpps import create_dataset, final_dataset, item_status, stored
from .conftest import DicomWebSite

STEPS = "/dicomweb/modality-performed-procedure-steps"
UID_ROOT = "1.2.826.0.1.3680043.10.999.78."
JSON_BODY = {"Content-Type": "application/dicom+json"}


def scheduled(site: DicomWebSite, patient_id: str) -> WorklistItem:
    """The site's scheduled item of ``patient_id`` (each test has its own)."""
    with site.database.session() as session:
        item = session.scalars(select(WorklistItem).where(WorklistItem.patient_id == patient_id)).one()
    return item


def post(client: httpx.Client, path: str, dataset: Dataset | Any, **headers: str) -> httpx.Response:
    body = json.dumps(dataset.to_json_dict()) if isinstance(dataset, Dataset) else dataset
    return client.post(path, content=body, headers={**JSON_BODY, **headers})


def retrieve(client: httpx.Client, uid: str, *parameters: tuple[str, str]) -> Dataset:
    response = client.get(f"{STEPS}/{uid}", params=list(parameters))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert len(answer) == 1
    return Dataset.from_json(answer[0])


def test_create_complete_retrieve(mpps_site: DicomWebSite) -> None:
    """Create: 201 and IN PROGRESS, the item STARTED; update to COMPLETED: 200, the item COMPLETED; the step
    is final (409); retrieve shows what was stored; every change is audited."""
    uid = f"{UID_ROOT}1"
    item = scheduled(mpps_site, "M1")
    created = post(mpps_site.writer, f"{STEPS}/{uid}", create_dataset(item))
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"{mpps_site.site.url}{STEPS}/{uid}"
    assert item_status(mpps_site.database, item) == ("STARTED", True)
    step = retrieve(mpps_site.reader, uid)
    assert step.PerformedProcedureStepStatus == "IN PROGRESS"
    assert step.PatientName == "Müller^Hans"
    assert step.ScheduledStepAttributesSequence[0].StudyInstanceUID == item.study_instance_uid

    completed = post(mpps_site.writer, f"{STEPS}/{uid}?update", final_dataset("COMPLETED"))
    assert completed.status_code == 200, completed.text
    assert item_status(mpps_site.database, item) == ("COMPLETED", True)
    assert retrieve(mpps_site.reader, uid).PerformedProcedureStepStatus == "COMPLETED"
    again = post(mpps_site.writer, f"{STEPS}/{uid}?update", final_dataset("DISCONTINUED"))
    assert again.status_code == 409
    assert "may no longer be updated" in again.json()["detail"]

    with mpps_site.database.session() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.target == f"mpps:{uid}")).all()
        assert [(event.action, event.actor) for event in events] == [
            ("mpps.create", "token:scanner"), ("mpps.update", "token:scanner")]


def test_discontinued_at_the_update_resource(mpps_site: DicomWebSite) -> None:
    """``POST .../{uid}/update`` (PS3.18 B.39) to DISCONTINUED: the item DISCONTINUED."""
    uid = f"{UID_ROOT}2"
    item = scheduled(mpps_site, "M2")
    assert post(mpps_site.writer, f"{STEPS}/{uid}", create_dataset(item)).status_code == 201
    assert post(mpps_site.writer, f"{STEPS}/{uid}/update", final_dataset("DISCONTINUED")).status_code == 200
    assert item_status(mpps_site.database, item) == ("DISCONTINUED", True)


def test_refusals(mpps_site: DicomWebSite) -> None:
    """Duplicate create 409, a create not IN PROGRESS or missing an attribute 400, a final state without its
    series 409, an unknown step 404, a body that is not the DICOM JSON model 400, another media type 415."""
    uid = f"{UID_ROOT}3"
    item = scheduled(mpps_site, "M3")
    writer = mpps_site.writer
    not_in_progress = post(writer, f"{STEPS}/{uid}", create_dataset(item, status="COMPLETED"))
    assert not_in_progress.status_code == 400
    assert "PerformedProcedureStepStatus" in not_in_progress.json()["detail"]
    missing = post(writer, f"{STEPS}/{uid}", create_dataset(item, Modality=None))
    assert missing.status_code == 400
    assert "Modality missing" in missing.json()["detail"]
    assert stored(mpps_site.database, uid) is None

    assert post(writer, f"{STEPS}/{uid}", create_dataset(item)).status_code == 201
    duplicate = post(writer, f"{STEPS}/{uid}", create_dataset(item))
    assert duplicate.status_code == 409
    assert "already exists" in duplicate.json()["detail"]
    no_series = post(writer, f"{STEPS}/{uid}?update", final_dataset("COMPLETED", series=False))
    assert no_series.status_code == 409
    assert "PerformedSeriesSequence" in no_series.json()["detail"]
    unknown_status = post(writer, f"{STEPS}/{uid}?update", '{"00400252": {"vr": "CS", "Value": ["DONE"]}}')
    assert unknown_status.status_code == 400
    assert item_status(mpps_site.database, item) == ("STARTED", True)

    other = "1.2.826.0.1.3680043.10.999.78.404"
    assert post(writer, f"{STEPS}/{other}?update", final_dataset()).status_code == 404
    assert mpps_site.reader.get(f"{STEPS}/{other}").status_code == 404
    assert post(writer, f"{STEPS}/{other}", "{not json").status_code == 400
    assert post(writer, f"{STEPS}/{other}", '{"PatientID": "P1"}').status_code == 400
    assert post(writer, f"{STEPS}/{other}", '[{}, {}]').status_code == 400
    assert post(writer, f"{STEPS}/not-a-uid", create_dataset(item)).status_code == 400
    wrong_type = post(writer, f"{STEPS}/{other}", create_dataset(item), **{"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415


def test_update_ignores_what_may_not_change(mpps_site: DicomWebSite) -> None:
    """Attributes an N-SET may not change are ignored, as over DIMSE, and named in a Warning."""
    uid = f"{UID_ROOT}4"
    assert post(mpps_site.writer, f"{STEPS}/{uid}", create_dataset(scheduled(mpps_site, "M4"))).status_code == 201
    change = Dataset()
    change.PatientName = "Other^Name"
    change.PerformedProcedureStepDescription = "done half"
    response = post(mpps_site.writer, f"{STEPS}/{uid}?update", change)
    assert response.status_code == 200
    assert response.headers["warning"].endswith("Attributes an update may not change were ignored: PatientName")
    step = retrieve(mpps_site.reader, uid)
    assert (step.PatientName, step.PerformedProcedureStepDescription) == ("Müller^Hans", "done half")


def test_roles(mpps_site: DicomWebSite) -> None:
    """Reporting MPPS needs the write role (403 for a read token, 401 without one); reading needs read."""
    uid = f"{UID_ROOT}5"
    dataset = create_dataset(scheduled(mpps_site, "M5"))
    assert post(mpps_site.reader, f"{STEPS}/{uid}", dataset).status_code == 403
    with mpps_site.site.client() as anonymous:
        assert post(anonymous, f"{STEPS}/{uid}", dataset).status_code == 401
    assert stored(mpps_site.database, uid) is None
    assert post(mpps_site.writer, f"{STEPS}/{uid}", dataset).status_code == 201
    assert retrieve(mpps_site.reader, uid).PerformedProcedureStepStatus == "IN PROGRESS"


def test_mpps_clients_allow_list(mpps_site: DicomWebSite) -> None:
    """A write token not in http.dicomweb.mpps_clients may not report MPPS (403); the listed one may."""
    uid = f"{UID_ROOT}6"
    dataset = create_dataset(scheduled(mpps_site, "M6"))
    refused = post(mpps_site.editor, f"{STEPS}/{uid}", dataset)
    assert refused.status_code == 403
    assert "http.dicomweb.mpps_clients" in refused.json()["detail"]
    assert post(mpps_site.editor, f"{STEPS}/{uid}?update", final_dataset()).status_code == 403
    assert stored(mpps_site.database, uid) is None
    assert post(mpps_site.writer, f"{STEPS}/{uid}", dataset).status_code == 201


def test_created_over_dicomweb_completed_over_dimse(mpps_site: DicomWebSite) -> None:
    """A step created over HTTP is completed by N-SET; HTTP then shows it COMPLETED."""
    uid = f"{UID_ROOT}7"
    item = scheduled(mpps_site, "M7")
    assert post(mpps_site.writer, f"{STEPS}/{uid}", create_dataset(item)).status_code == 201
    mpps_final(Peer("127.0.0.1", mpps_site.site.dicom_port, calling_ae="MR1"), uid, "COMPLETED", "T1",
               datetime.now(UTC))
    assert retrieve(mpps_site.reader, uid).PerformedProcedureStepStatus == "COMPLETED"
    assert item_status(mpps_site.database, item) == ("COMPLETED", True)


def test_created_over_dimse_completed_over_dicomweb(mpps_site: DicomWebSite) -> None:
    """A step created by N-CREATE is retrieved and completed over HTTP."""
    uid = f"{UID_ROOT}8"
    item = scheduled(mpps_site, "M8")
    uid = mpps_in_progress(Peer("127.0.0.1", mpps_site.site.dicom_port, calling_ae="MR1"),
                           item.study_instance_uid, "MR", datetime.now(UTC))
    assert item_status(mpps_site.database, item) == ("STARTED", True)
    narrowed = retrieve(mpps_site.reader, uid, ("includefield", "PerformedProcedureStepStatus,Modality"))
    assert [element.keyword for element in narrowed] == ["Modality", "PerformedProcedureStepStatus"]
    assert narrowed.PerformedProcedureStepStatus == "IN PROGRESS"
    assert post(mpps_site.writer, f"{STEPS}/{uid}?update", final_dataset("COMPLETED")).status_code == 200
    assert item_status(mpps_site.database, item) == ("COMPLETED", True)
