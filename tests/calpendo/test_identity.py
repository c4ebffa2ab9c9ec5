"""A booking keeps its worklist entry and Study Instance UID when it is renamed, moved, rescheduled or
cancelled."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from pylantir.config import DataSourceSettings, PylantirConfig
from pylantir.dicom import start_server
from pylantir.dicom.client import Peer, find, worklist_identifier
from pylantir.store import WorklistItem
from pylantir.sync.runner import sync_source
from pylantir_calpendo.bookings import booking_uid


def _rows(database):
    with database.session() as session:
        return {row.accession_number: (row.id, row.study_instance_uid, row.patient_id, row.patient_name,
                                       row.scheduled_start_time, row.modality, row.requested_procedure_description)
                for row in session.scalars(select(WorklistItem))}


def test_renamed_and_rescheduled_bookings_keep_their_row_and_uid(serve, registry, config_for, mapping, database):
    server = serve()
    start = datetime.now(ZoneInfo("America/Edmonton")).replace(minute=0, second=0, microsecond=0) + timedelta(hours=3)
    first = server.add("SUB001_Jane", start)
    second = server.add("SUB002_John", start + timedelta(hours=1), resource="3T Research")
    config = config_for(server, resources=["3T Diagnostic", "3T Research"],
                        resource_modality_mapping={"3T Diagnostic": "MR", "3T Research": "OT"})
    source = DataSourceSettings(name="scanners", type="calpendo", config=config, field_mapping=mapping)
    assert sync_source(database, registry, source).inserted == 2
    before = _rows(database)
    assert before[str(first.id)][1:] == (booking_uid(server.url, str(first.id)), "SUB001", "Jane",
                                         f"{start:%H%M%S}", "MR", "BRISKP")

    first.title, first.start, first.end = "SUB001_Janet", start + timedelta(minutes=30), start + timedelta(minutes=90)
    second.resource = "3T Diagnostic"
    result = sync_source(database, registry, source)
    assert (result.outcome, result.inserted, result.updated) == ("success", 0, 2), result.error
    after = _rows(database)
    assert after[str(first.id)] == (*before[str(first.id)][:3], "Janet", f"{start + timedelta(minutes=30):%H%M%S}",
                                    "MR", "BRISKP")
    assert after[str(second.id)][:2] == before[str(second.id)][:2] and after[str(second.id)][5] == "MR"
    assert sync_source(database, registry, source).unchanged == 2


def test_a_cancelled_booking_leaves_the_worklist_when_its_status_is_fetched(
    serve, registry, config_for, mapping, database
):
    server = serve()
    start = datetime.now(ZoneInfo("America/Edmonton")).replace(second=0, microsecond=0) + timedelta(hours=1)
    kept, cancelled = server.add("SUB001_Jane", start), server.add("SUB002_John", start + timedelta(hours=1))
    status = {"scheduled_procedure_step_status": {
        "from": "status", "map": {"Approved": "SCHEDULED", "Cancelled": "DISCONTINUED"}}}
    config = config_for(server, status_filter=["Approved", "Cancelled"], resource_modality_mapping={"3T": "MR"})
    source = DataSourceSettings(name="scanners", type="calpendo", config=config, field_mapping={**mapping, **status})
    assert sync_source(database, registry, source).inserted == 2
    cancelled.status = "Cancelled"
    assert sync_source(database, registry, source).updated == 1

    server_config = PylantirConfig(timezone="America/Edmonton")
    dicom = start_server(server_config, database, port=0)
    try:
        dates = f"{start:%Y%m%d}-{start + timedelta(days=1):%Y%m%d}"
        found = find(Peer("127.0.0.1", dicom.port), worklist_identifier(date=dates))
    finally:
        dicom.shutdown()
    assert [i.AccessionNumber for i in found] == [str(kept.id)]
    assert _rows(database)[str(cancelled.id)][0] is not None  # kept, as DISCONTINUED, not deleted


def test_previous_entry_matches_names_the_location_of_the_bookings_record(serve, registry, config_for, fetch):
    """What the hook predicts for a row of the previous Pylantir (booking ID in ``source_record_id``) is the
    location of the record the plugin then yields for that booking; a row without a booking ID gets none."""
    server = serve()
    start = datetime.now(ZoneInfo("America/Edmonton")).replace(minute=0, second=0, microsecond=0) + timedelta(hours=3)
    booking = server.add("SUB001_Jane", start)
    config = config_for(server)
    [record] = fetch(config)
    owner = registry.owner("calpendo")
    [matches] = registry.call_hook(owner, "previous_entry_matches", source_type="calpendo", config=config,
                                   entries=[{"source_record_id": str(booking.id), "patient_id": "SUB001"},
                                            {"source_record_id": None, "patient_id": "SUB009"}])
    assert list(matches) == [{"source_key": record.location}, None]
