"""Incremental sync: full export first, then REDCap's date range, and a periodic full export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from pylantir import FetchState

FIELDS = {"name", "scan_date"}


def _next_state(state: FetchState, **changes) -> FetchState:
    """What the core hands the next fetch after ``state``'s sync committed."""
    previous = dict(state.saved) | changes
    return FetchState(previous=previous, last_success=datetime.fromisoformat(previous["since"]))


def test_full_then_incremental_then_periodic_full(serve, fetch, classic):
    server = serve(classic)
    first = FetchState()
    assert len(fetch({}, FIELDS, first)) == 3
    assert first.complete is True and "dateRangeBegin" not in server.records_requests()[-1]
    assert set(first.saved) == {"since", "last_full_export", "fingerprint"}

    classic.touch("2", datetime.now())  # the server's wall clock: local time by default
    second = _next_state(first)
    entries = fetch({}, FIELDS, second)
    assert [entry.location for entry in entries] == ["record 2"]
    assert second.complete is False and second.unchanged is False
    since = datetime.fromisoformat(first.saved["since"])
    expected = (since - timedelta(minutes=5)).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    assert server.records_requests()[-1]["dateRangeBegin"] == expected
    assert second.saved["last_full_export"] == first.saved["last_full_export"]

    del classic.rows[0]  # a deletion: only a full export can show it
    long_ago = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    third = _next_state(second, last_full_export=long_ago)
    entries = fetch({}, FIELDS, third)
    assert [entry.location for entry in entries] == ["record 2", "record 3"]
    assert third.complete is True and "dateRangeBegin" not in server.records_requests()[-1]
    assert third.saved["last_full_export"] == third.saved["since"]


def test_nothing_changed_reports_unchanged(serve, fetch, classic):
    serve(classic)
    first = FetchState()
    fetch({}, FIELDS, first)
    second = _next_state(first)
    assert fetch({}, FIELDS, second) == []
    assert second.unchanged is True and second.complete is False


def test_changed_settings_force_a_full_export(serve, fetch, classic):
    server = serve(classic)
    first = FetchState()
    fetch({}, FIELDS, first)
    second = _next_state(first)
    assert len(fetch({}, FIELDS | {"sex"}, second)) == 3
    assert second.complete is True and "dateRangeBegin" not in server.records_requests()[-1]


def test_incremental_off_always_exports_everything(serve, fetch, classic):
    server = serve(classic)
    first = FetchState()
    fetch({"incremental": False}, FIELDS, first)
    second = _next_state(first)
    assert len(fetch({"incremental": False}, FIELDS, second)) == 3
    assert second.complete is True and "dateRangeBegin" not in server.records_requests()[-1]


def test_date_range_uses_the_server_time_zone_and_last_success(serve, fetch, classic):
    server = serve(classic)
    config = {"server_timezone": "America/Edmonton"}
    first = FetchState()
    fetch(config, FIELDS, first)
    last_success = datetime.now(UTC) - timedelta(minutes=30)
    second = FetchState(
        previous={key: first.saved[key] for key in ("last_full_export", "fingerprint")},
        last_success=last_success,
    )
    fetch(config, FIELDS, second)
    local = (last_success - timedelta(minutes=5)).astimezone(ZoneInfo("America/Edmonton"))
    assert server.records_requests()[-1]["dateRangeBegin"] == local.strftime("%Y-%m-%d %H:%M:%S")
