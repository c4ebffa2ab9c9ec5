"""C-FIND identifiers written from the rows by the compiled plan (pylantir.dicom.encoding.IdentifierEncoder)
are byte for byte what the general path (build_response, then encode_response) and pydicom write.

Real items in a real database (SQLite and PostgreSQL), read as the C-FIND handler reads them
(pylantir.store.queries.answer_rows); requests with every kind of key: string columns with and without
fallbacks, several values, UIDs with spaces, numbers, code sequences, extras at both levels, private and
unknown tags, Specific Character Set, a universal step item.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydicom import Dataset
from pydicom.sequence import Sequence
from pynetdicom.dsutils import encode
from sqlalchemy import select

from pylantir.dicom.client import SPS_KEYS, TOP_LEVEL_KEYS
from pylantir.dicom.encoding import IdentifierEncoder, encode_response
from pylantir.dicom.responses import RequestPlan, UnencodableValue, build_response
from pylantir.store import Database, WorklistItem
from pylantir.store.queries import answer_rows

ASCII_ITEMS: list[dict[str, Any]] = [
    {"study_instance_uid": " 1.2.826.0.1.3680043.10.999.77 ", "scheduled_station_aetitle": "MR1\\MR2",
     "patient_birth_date": "19700101", "patient_sex": "F", "procedure_description": "odd",
     "performing_physician": "Doe^Jo", "requested_procedure_description": "Brain MRI"},
    # empty Type 1 keys take their fallbacks: UNKNOWN, the item's id, UNASSIGNED, the start's time
    {"patient_name": None, "requested_procedure_id": None, "scheduled_procedure_step_id": "",
     "scheduled_station_aetitle": None, "scheduled_start_time": None, "accession_number": None},
    {"patient_weight_kg": 72.123456789, "patient_size_m": 1.8, "requested_procedure_code_value": "MRBRAIN",
     "protocol_name": "T1 3D", "hisris_coding_designator": "99LOCAL",
     "extra_attributes": {"PatientState": "fasting", "ReferencedStudySequence": [
         {"ReferencedSOPClassUID": "1.2.840.10008.3.1.2.3.1", "ReferencedSOPInstanceUID": " 1.2.3 "}]},
     "extra_step_attributes": {"CommentsOnTheScheduledProcedureStep": "bring glasses",
                               "RequestedContrastAgent": "none"}},
    {"extra_attributes": {"PatientComments": "long comment " * 6000}},  # over 64 KiB: UN when explicit
]
NON_ASCII_ITEMS: list[dict[str, Any]] = [
    {"patient_name": "Müller^Jürgen"},
    {"performing_physician": "Ødegård^Åse", "extra_step_attributes": {"CommentsOnTheScheduledProcedureStep": "é"}},
]


def requests(query: Callable[..., Dataset]) -> list[Dataset]:
    usual = query(dict.fromkeys(TOP_LEVEL_KEYS, ""), dict.fromkeys(SPS_KEYS, ""))
    everything = query(
        {**dict.fromkeys(TOP_LEVEL_KEYS, ""), "SpecificCharacterSet": "ISO_IR 100", "PatientWeight": "",
         "PatientSize": "", "PatientState": "", "PatientComments": "", "ReferencedStudySequence": Sequence(),
         "RequestedProcedureCodeSequence": Sequence(), "IssuerOfPatientID": ""},
        {**dict.fromkeys(SPS_KEYS, ""), "ScheduledProtocolCodeSequence": Sequence(), "RequestedContrastAgent": "",
         "CommentsOnTheScheduledProcedureStep": "", "ScheduledProcedureStepLocation": ""},
    )
    everything.add_new(0x00091010, "LO", "")  # a private tag: returned empty
    universal_step = query({"PatientID": "", "AccessionNumber": "", "ScheduledProcedureStepSequence": Sequence()})
    return [usual, everything, universal_step, query({"SpecificCharacterSet": "", "PatientName": ""})]


def rows(database: Database) -> list[Any]:
    with database.session() as session:
        return list(answer_rows(session, select(WorklistItem).order_by(WorklistItem.id), 2))


@pytest.mark.parametrize("implicit", [True, False], ids=["implicit", "explicit"])
def test_compiled_plan_writes_what_the_general_path_and_pydicom_write(
    implicit: bool, database: Database, add_items: Callable[..., list[WorklistItem]], query: Callable[..., Dataset],
) -> None:
    add_items(*ASCII_ITEMS, *NON_ASCII_ITEMS)
    stored = rows(database)
    assert len(stored) == len(ASCII_ITEMS) + len(NON_ASCII_ITEMS)
    for request in requests(query):
        plan = RequestPlan.of(request)
        encoder = IdentifierEncoder(plan, implicit)
        for number, row in enumerate(stored):
            response = build_response(row, plan)
            expected = encode_response(response, implicit)
            assert expected == encode(response.dataset(), implicit, True)
            compiled = encoder.compiled(row)
            if number < len(ASCII_ITEMS):  # all ASCII: the compiled plan writes it
                assert compiled == expected, (number, request)
            elif response.non_ascii:  # ISO_IR 192: the general path does
                assert compiled is None
            assert encoder.encode(row) == expected


def test_rows_answer_as_the_items_do(database: Database, add_items: Callable[..., list[WorklistItem]],
                                     query: Callable[..., Dataset]) -> None:
    """A row of the answer's columns gives the response its ORM item gives (every stored attribute)."""
    items = add_items(*ASCII_ITEMS, *NON_ASCII_ITEMS)
    with database.session() as session:
        objects = session.scalars(select(WorklistItem).order_by(WorklistItem.id)).all()
        plan = RequestPlan.of(Dataset(), everything=True)
        expected = [build_response(item, plan).dataset().to_json() for item in objects]
    assert [build_response(row, plan).dataset().to_json() for row in rows(database)] == expected
    assert len(expected) == len(items)


def test_a_value_its_vr_cannot_hold_is_refused_on_both_paths(
    database: Database, add_items: Callable[..., list[WorklistItem]], query: Callable[..., Dataset],
) -> None:
    add_items({"extra_attributes": {"PregnancyStatus": "yes"}})  # text in a US element
    [row] = rows(database)
    plan = RequestPlan.of(query({"PatientID": "", "PregnancyStatus": ""}))
    for implicit in (True, False):
        encoder = IdentifierEncoder(plan, implicit)
        assert encoder.compiled(row) is None
        with pytest.raises(UnencodableValue, match="PregnancyStatus"):
            encoder.encode(row)
