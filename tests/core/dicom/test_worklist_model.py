"""The worklist's data model end to end (issue 12's corpus findings): a JSON source synced by the real
engine, then C-FIND over a real association, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydicom import Dataset
from pydicom.dataelem import DataElement
from pydicom.sequence import Sequence
from pynetdicom.sop_class import ModalityWorklistInformationFind
from sqlalchemy import select

from pylantir.config import PylantirConfig
from pylantir.dicom.client import Peer, association, find, find_on
from pylantir.store import Database, RejectedRow, WorklistItem
from pylantir.sync.service import SyncService
from pylantir.testing import load_distribution

TODAY = datetime.now(UTC).strftime("%Y%m%d")
MAPPING: dict[str, Any] = {
    "mrn": "patient_id",
    "name": "patient_name",
    "modality": "modality",
    "date": "scheduled_start_date",
    "time": "scheduled_start_time",
    "accession": "accession_number",
    "step": "scheduled_procedure_step_id",
    "station": "scheduled_station_aetitle",
}


def booking(number: int, **changes: Any) -> dict[str, Any]:
    """A valid record of the JSON export, for today."""
    record = {"mrn": f"J{number}", "name": f"Demo^Patient{number}", "modality": "MR", "date": TODAY,
              "time": f"{8 + number:02d}:00", "accession": f"ACC{number}", "station": "MR1"}
    return {**record, **changes}


def sync(database: Database, tmp_path: Path, records: list[dict[str, Any]], **mapping: Any) -> Any:
    """Write ``records`` as a JSON file and sync it once through pylantir-json."""
    path = tmp_path / "export.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    config = PylantirConfig.model_validate({"data_sources": [
        {"name": "ris", "type": "json", "config": {"file_path": str(path)}, "field_mapping": {**MAPPING, **mapping}}
    ]})
    (result,) = SyncService(config, load_distribution("pylantir-json")[0], database).run_once()
    return result


def values(element: DataElement) -> list[Any]:
    """The values of an element, as a list whatever their number."""
    return list(element.value) if element.VM > 1 else [element.value]


def rejections(database: Database) -> list[tuple[str | None, str]]:
    with database.session() as session:
        return [(row.field, row.reason) for row in session.scalars(select(RejectedRow).order_by(RejectedRow.id))]


EXTRAS_BY_VR = {  # keyword: (VR, raw value in the source, value C-FIND returns)
    "PregnancyStatus": ("US", "4", 4),
    "NumberOfStudyRecordsInInstance": ("UL", 70000, 70000),
    "TagAngleSecondAxis": ("SS", "-12", -12),
    "ReferencePixelX0": ("SL", -70000, -70000),
    "RecommendedDisplayFrameRateInFloat": ("FL", "2.5", 2.5),
    "EventTimeOffset": ("FD", 0.125, 0.125),
    "DimensionIndexPointer": ("AT", "(0010,0020)", 0x00100020),
    "StageNumber": ("IS", "3", 3),
    "EventElapsedTimes": ("DS", [1.5, "2.25"], [1.5, 2.25]),
    "DiffusionGradientOrientation": ("FD", "0\\0.5\\1", [0.0, 0.5, 1.0]),
    "SimpleFrameList": ("UL", [1, 2, 3], [1, 2, 3]),
}


@pytest.mark.plugin("pylantir-json")
def test_extras_are_converted_by_their_vr_and_returned_encodable(database, tmp_path, peer: Peer, query) -> None:
    extras = {f"extra.{keyword}": {"from": keyword} for keyword in EXTRAS_BY_VR}
    record = booking(1, **{keyword: raw for keyword, (_vr, raw, _sent) in EXTRAS_BY_VR.items()})
    result = sync(database, tmp_path, [record], **extras)
    assert (result.outcome, result.inserted, result.rejected) == ("success", 1, 0)
    with database.session() as session:
        (item,) = session.scalars(select(WorklistItem))
        assert item.extra_attributes["PregnancyStatus"] == 4  # a number, not the text '4'

    [response] = find(peer, query({"PatientID": "", **dict.fromkeys(EXTRAS_BY_VR, None)}))
    for keyword, (vr, _raw, sent) in EXTRAS_BY_VR.items():
        element = response[keyword]
        assert element.VR == vr, keyword
        got = values(element) if isinstance(sent, list) else int(element.value) if vr == "AT" else element.value
        assert got == pytest.approx(sent), keyword


@pytest.mark.plugin("pylantir-json")
@pytest.mark.parametrize(("keyword", "raw", "reason"), [
    ("PregnancyStatus", "pregnant", "not an integer"),
    ("PregnancyStatus", 70000, "not valid for VR US (an integer from 0 to 65535)"),
    ("TagAngleSecondAxis", 40000, "not valid for VR SS"),
    ("RecommendedDisplayFrameRateInFloat", 1e39, "within the range of VR FL"),
    ("DimensionIndexPointer", "PatientNme", "not a DICOM tag"),
    ("StageNumber", "3.5", "not an integer"),
    ("EventTimeOffset", "soon", "not a number"),
    ("PatientState", "x" * 65, "not valid for VR LO (at most 64 characters"),
    ("PatientState", ["a", "b"], "holds several values or an object, but the field holds one value"),
])
def test_an_extra_its_vr_cannot_hold_rejects_the_row_naming_it(database, tmp_path, keyword, raw, reason) -> None:
    result = sync(database, tmp_path, [booking(1), booking(2, **{keyword: raw})],
                  **{f"extra.{keyword}": {"from": keyword}})
    assert (result.inserted, result.rejected) == (1, 1)
    [(field, why)] = rejections(database)
    assert field == f"extra.{keyword}" and reason in why
    assert str(raw) not in why  # reasons never quote values


def test_an_item_that_cannot_be_encoded_is_left_out_with_a_warning(add_items, peer: Peer, caplog, query) -> None:
    # a row stored before values were checked by their VR (inserted directly): text in a US attribute
    good, bad, other = add_items({"time": "080000"}, {"time": "090000", "extra_attributes": {"PregnancyStatus": "4"}},
                                 {"time": "100000"})
    with caplog.at_level(logging.WARNING, logger="pylantir"):
        with association(peer, ModalityWorklistInformationFind) as assoc:
            responses = find_on(assoc, query({"PatientID": "", "PregnancyStatus": None}))
            again = find_on(assoc, query({"PatientID": ""}))  # the association still works
    assert [status for status, _ in responses] == [0xFF00, 0xFF00, 0x0000]
    assert [str(ds.PatientID) for _, ds in responses[:2]] == [good.patient_id, other.patient_id]
    assert len(again) == 4  # without PregnancyStatus, the item is answered
    [warning] = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert f"worklist item id {bad.id} (source test)" in warning and "PregnancyStatus" in warning
    assert bad.patient_id not in warning and bad.patient_name not in warning


@pytest.mark.plugin("pylantir-json")
def test_two_steps_of_one_requested_procedure_are_two_items(database, tmp_path, peer: Peer, query) -> None:
    steps = [booking(1, step="S1", accession="ACC7"),
             booking(2, step="S2", accession="ACC7", mrn="J1", name="Demo^Patient1", modality="CT", station="CT1")]
    first = sync(database, tmp_path, steps)
    assert (first.inserted, first.rejected) == (2, 0)
    answer = find(peer, query({"AccessionNumber": "ACC7", "StudyInstanceUID": ""},
                                   {"ScheduledProcedureStepID": "", "Modality": "", "ScheduledStationAETitle": "",
                                    "ScheduledProcedureStepStartTime": ""}))
    assert [(ds.ScheduledProcedureStepSequence[0].ScheduledProcedureStepID,
             ds.ScheduledProcedureStepSequence[0].Modality,
             ds.ScheduledProcedureStepSequence[0].ScheduledStationAETitle,
             ds.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime) for ds in answer] == [
        ("S1", "MR", "MR1", "090000"), ("S2", "CT", "CT1", "100000")]
    assert answer[0].StudyInstanceUID == answer[1].StudyInstanceUID  # one requested procedure, one study
    again = sync(database, tmp_path, steps)
    assert (again.inserted, again.unchanged) == (0, 2)


@pytest.mark.plugin("pylantir-json")
def test_two_rows_of_one_procedure_without_step_ids_are_one_entry(database, tmp_path) -> None:
    result = sync(database, tmp_path, [booking(1, accession="ACC7"), booking(2, accession="ACC7")])
    assert (result.inserted, result.rejected) == (1, 1)


@pytest.mark.plugin("pylantir-json")
def test_step_level_extras_are_returned_in_the_step_item(database, tmp_path, peer: Peer, query) -> None:
    result = sync(database, tmp_path, [booking(1, contrast="Gadolinium", state="fasting")],
                  **{"extra.RequestedContrastAgent": {"from": "contrast"}, "extra.PatientState": {"from": "state"}})
    assert result.inserted == 1
    with database.session() as session:
        (item,) = session.scalars(select(WorklistItem))
        assert (item.extra_attributes, item.extra_step_attributes) == (
            {"PatientState": "fasting"}, {"RequestedContrastAgent": "Gadolinium"})

    [asked] = find(peer, query({"PatientState": "", "RequestedContrastAgent": ""},
                                    {"RequestedContrastAgent": "", "Modality": ""}))
    assert asked.PatientState == "fasting"
    assert asked.RequestedContrastAgent == ""  # not a top-level attribute
    assert asked.ScheduledProcedureStepSequence[0].RequestedContrastAgent == "Gadolinium"
    universal = query({"PatientID": ""})
    universal.ScheduledProcedureStepSequence = Sequence([Dataset()])
    for request in (universal, query({"PatientID": ""}, {})):
        [whole] = find(peer, request)
        assert whole.ScheduledProcedureStepSequence[0].RequestedContrastAgent == "Gadolinium"


@pytest.mark.plugin("pylantir-json")
def test_several_station_ae_titles_are_stored_and_any_of_them_matches(database, tmp_path, peer: Peer, query) -> None:
    result = sync(database, tmp_path, [booking(1, station="AA32\\AA33"), booking(2, station=["AA34", "AA35"]),
                                       booking(3, station="MR1")])
    assert (result.inserted, result.rejected) == (3, 0)

    def stations(key: str) -> list[list[str]]:
        answer = find(peer, query({"PatientID": ""}, {"ScheduledStationAETitle": key,
                                                           "ScheduledProcedureStepStartDate": TODAY}))
        return [values(ds.ScheduledProcedureStepSequence[0]["ScheduledStationAETitle"]) for ds in answer]

    assert stations("AA33") == stations("AA32") == [["AA32", "AA33"]]
    assert stations("AA35") == [["AA34", "AA35"]]
    assert stations("AA3") == stations("A32") == []
    assert stations("AA3*") == [["AA32", "AA33"], ["AA34", "AA35"]]
    assert stations("*3") == [["AA32", "AA33"]]
    assert stations("AA3?") == [["AA32", "AA33"], ["AA34", "AA35"]]
    assert stations("A*2\\*5") == [["AA32", "AA33"], ["AA34", "AA35"]]  # a key with two values: either
    assert stations("MR1") == [["MR1"]]


@pytest.mark.plugin("pylantir-json")
def test_too_many_or_invalid_station_titles_reject_the_row(database, tmp_path) -> None:
    result = sync(database, tmp_path, [booking(1, station="\\".join(f"S{n}" for n in range(9))),
                                       booking(2, station="OK\\" + "X" * 17)])
    assert (result.inserted, result.rejected) == (0, 2)
    assert {field for field, _ in rejections(database)} == {"scheduled_station_aetitle"}


def test_code_sequences_are_left_out_when_nothing_is_stored(add_items: Callable[..., list[WorklistItem]],
                                                           peer: Peer, query) -> None:
    add_items({"time": "080000"}, {"time": "090000", "protocol_name": "BRAIN", "requested_procedure_code_value": "MR1"})
    request = query({"PatientID": "", "RequestedProcedureCodeSequence": None},
                         {"Modality": "", "ScheduledProtocolCodeSequence": None})
    bare, coded = find(peer, request)
    assert "RequestedProcedureCodeSequence" not in bare
    assert "ScheduledProtocolCodeSequence" not in bare.ScheduledProcedureStepSequence[0]
    assert coded.RequestedProcedureCodeSequence[0].CodeValue == "MR1"
    assert coded.ScheduledProcedureStepSequence[0].ScheduledProtocolCodeSequence[0].CodeMeaning == "BRAIN"
    universal = query({"PatientID": ""}, {})
    bare, coded = find(peer, universal)
    assert "ScheduledProtocolCodeSequence" not in bare.ScheduledProcedureStepSequence[0]
    assert "ScheduledProtocolCodeSequence" in coded.ScheduledProcedureStepSequence[0]
