"""Fetching from both kinds of Calpendo server: what each record holds, and which bookings are asked for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pylantir import FetchState, Record, Rejected
from pylantir_calpendo.bookings import booking_uid

EDMONTON = "America/Edmonton"
RESOURCE, EEG = "3T Diagnostic", "EEG Lab"
YEARS = 60 * 24 * 366 * 5  # a rolling window wide enough for any fixed date in these tests


@pytest.mark.parametrize("flavour", ["api", "webdav"])
def test_a_booking_becomes_a_record_on_both_kinds_of_server(serve, fetch, flavour, config_for):
    server = serve(flavour)
    soon = datetime.now(ZoneInfo(EDMONTON)).replace(second=0, microsecond=0) + timedelta(hours=2)
    mri = server.add("SUB001_Jane_Doe", soon, minutes=90, operator="Tech Smith")
    eeg = server.add("SUB002_John_Roe", soon + timedelta(hours=1), resource=EEG, biskit_type="EEGScan")
    config = config_for(server, resources=[RESOURCE, EEG], resource_modality_mapping={"3T": "MR", "EEG": "EEG"})
    state = FetchState()
    first, second = fetch(config, state)
    assert (first.location, second.location) == (f"booking {mri.id}", f"booking {eeg.id}")
    assert (first.data["title"], first.data["status"]) == ("SUB001_Jane_Doe", "Approved")
    assert first.data["project"]["formattedName"] == "BRISKP (Brain study)"
    assert first.data["properties"]["resource"]["name"] == RESOURCE  # the booking as Calpendo gave it
    assert first.data["_source"] == {
        "booking_id": str(mri.id), "study_instance_uid": booking_uid(server.url, str(mri.id)),
        "start_date": soon.date().isoformat(), "start_time": f"{soon:%H:%M:%S}",
        "end_date": (soon + timedelta(minutes=90)).date().isoformat(),
        "end_time": f"{soon + timedelta(minutes=90):%H:%M:%S}", "duration_minutes": 90,
        "modality": "MR", "operator": "Tech Smith",
    }
    assert second.data["_source"]["modality"] == "EEG" and "operator" not in second.data["_source"]
    assert server.queries("MRIScan") == [f"id/EQ/{mri.id}"]  # the operator is asked for MRI bookings only
    assert state.complete is False


def test_the_query_names_window_resources_statuses_and_projects(serve, fetch, config_for):
    server = serve("webdav")
    fetch(config_for(server, resources=[RESOURCE, "Mock Scanner"], status_filter="Approved",
                        projects=["BRISKP", "CPIP"], window_mode="today"))
    today = datetime.now(ZoneInfo(EDMONTON)).date()
    assert server.queries() == [
        f"AND/dateRange.start/GE/{today:%Y%m%d}-0000/dateRange.start/LT/{today + timedelta(days=1):%Y%m%d}-0000/"
        f"OR/resource.name/EQ/{RESOURCE}/resource.name/EQ/Mock Scanner/CLOSE/status/EQ/Approved/"
        "OR/project.name/EQ/BRISKP/project.name/EQ/CPIP/CLOSE/CLOSE"
    ]


def test_status_and_project_filters_choose_the_bookings(serve, fetch, config_for):
    server = serve()
    soon = datetime.now(ZoneInfo(EDMONTON)) + timedelta(hours=1)
    server.add("A", soon)
    server.add("B", soon, status="Cancelled")
    server.add("C", soon, status="Requested", project="CPIP")
    titles = lambda **keys: sorted(r.data["title"] for r in fetch(config_for(server, **keys)))  # noqa: E731
    assert titles() == ["A", "B", "C"]
    assert titles(status_filter="Approved") == ["A"]
    assert titles(status_filter=["Approved", "Cancelled"]) == ["A", "B"]
    assert titles(projects=["CPIP"]) == ["C"]


def test_resources_map_to_modalities_by_exact_name_then_longest_prefix(serve, fetch, config_for):
    server = serve()
    soon = datetime.now(ZoneInfo(EDMONTON)) + timedelta(hours=1)
    for resource in (RESOURCE, "3T Research", "EEG Lab"):
        server.add(resource, soon, resource=resource)
    mapping = {"3T": "MR", "3T Res": "OT", "EEG Lab": "EEG", "EEG": "XX"}
    records = fetch(config_for(server, resources=[RESOURCE, "3T Research", EEG], resource_modality_mapping=mapping))
    assert {r.data["title"]: r.data["_source"]["modality"] for r in records} == {
        RESOURCE: "MR", "3T Research": "OT", "EEG Lab": "EEG",
    }
    unmapped = fetch(config_for(server))  # no mapping: no modality, the field_mapping decides
    assert all("modality" not in r.data["_source"] for r in unmapped)


def test_unreadable_bookings_are_rejected_with_their_location(serve, fetch, config_for):
    server = serve()
    soon = datetime.now(ZoneInfo(EDMONTON)) + timedelta(hours=1)
    good = server.add("good", soon)
    no_date = server.add("no date", soon, patch={"properties": {"dateRange": {"start": "soon"}}})
    backwards = server.add("backwards", soon, patch={"properties": {"dateRange": {
        "finish": (soon - timedelta(hours=1)).astimezone(UTC).isoformat()}}})
    other = server.add("other", soon, patch={"properties": {"resource": {"name": None, "formattedName": "MEG"}}})
    gone = server.add("gone", soon)
    server.vanished.add(gone.id)  # deleted between the query and the read: skipped
    items = fetch(config_for(server, resource_modality_mapping={"3T": "MR"}))
    assert [(type(i).__name__, i.location) for i in items] == [
        ("Record", f"booking {good.id}"), ("Rejected", f"booking {no_date.id}"),
        ("Rejected", f"booking {backwards.id}"), ("Rejected", f"booking {other.id}"),
    ]
    reasons = [i.reason for i in items if isinstance(i, Rejected)]
    assert reasons == [
        "no start time: neither properties.dateRange.start nor formattedName ('[start, end]') is a date-time",
        "its end is before its start",
        "resource 'MEG' matches no entry of config.resource_modality_mapping",
    ]


def test_times_are_given_in_the_source_time_zone_across_daylight_saving(serve, fetch, config_for):
    server = serve()  # Calpendo 11 gives UTC; Edmonton moves to MDT at 02:00 on 2026-03-08
    server.add("over the change", datetime(2026, 3, 8, 8, 30, tzinfo=UTC), minutes=60)
    (record,) = fetch(config_for(server, lookback_minutes=YEARS, lookahead_hours=YEARS / 60))
    source = record.data["_source"]
    assert (source["start_date"], source["start_time"], source["end_time"]) == ("2026-03-08", "01:30:00", "03:30:00")
    assert source["duration_minutes"] == 60


def test_the_uid_depends_on_the_server_and_the_booking_only():
    uid = booking_uid("https://Site.Calpendo.com", "1234")
    assert uid == booking_uid("https://site.calpendo.com", "1234")
    assert uid.startswith("2.25.") and len(uid) <= 64
    assert uid != booking_uid("https://site.calpendo.com", "1235")
    assert uid != booking_uid("https://other.calpendo.com", "1234")


def test_every_item_is_a_record_or_a_rejection(serve, fetch, config_for):
    server = serve()
    server.add("one", datetime.now(ZoneInfo(EDMONTON)) + timedelta(minutes=5))
    assert all(isinstance(item, Record | Rejected) for item in fetch(config_for(server)))
