"""Failures: each a SourceError naming the source, the URL and what to check; never a credential."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pylantir import SourceError, TransientSourceError
from pylantir.config import DataSourceSettings
from pylantir.store import Database, SyncRun, WorklistItem
from pylantir.sync.runner import sync_source

PASSWORD = "Pw-9f3c1e77aa-never-logged"
MAPPING = {"patient_id": {"from": "title"}, "patient_name": {"from": "title"},
           "scheduled_start_date": {"from": "_source.start_date"}, "modality": {"value": "MR"}}


def _failure(fetch, config) -> SourceError:
    with pytest.raises(SourceError) as caught:
        fetch(config)
    assert PASSWORD not in str(caught.value)
    return caught.value


@pytest.fixture
def server(serve):
    server = serve()
    server.add("SUB001", datetime.now(ZoneInfo("America/Edmonton")) + timedelta(hours=1))
    return server


def test_refused_credentials_name_the_variables_not_their_values(server, fetch, config_for, monkeypatch):
    monkeypatch.setenv("CALPENDO_PASSWORD", "wrong-" + PASSWORD)
    error = _failure(fetch, config_for(server))
    assert not isinstance(error, TransientSourceError)
    assert str(error).startswith(
        f"source 'scanners' (Calpendo): querying bookings: {server.url}/api/q/Calpendo.Booking/AND/dateRange.start/GE/")
    assert str(error).endswith("refused the user and password in CALPENDO_USERNAME and CALPENDO_PASSWORD "
                               "(HTTP 401); check both")


def test_forbidden_and_wrong_paths_say_what_to_check(server, fetch, config_for):
    server.fail_next(403)
    assert "the Calpendo user in CALPENDO_USERNAME may not read" in str(_failure(fetch, config_for(server)))
    error = _failure(fetch, config_for(server, api_path="/webdav"))
    assert f"{server.url}/webdav/q/Calpendo.Booking/" in str(error)
    assert str(error).endswith("is not a Calpendo API (HTTP 404); check base_url and api_path ('/api' for "
                               "Calpendo 11 and later, '/webdav' for older servers)")


def test_a_missing_variable_is_named(server, fetch, config_for, monkeypatch):
    monkeypatch.delenv("CALPENDO_USERNAME")
    assert str(_failure(fetch, config_for(server))) == (
        "source 'scanners' (Calpendo): environment variable CALPENDO_USERNAME is not set")
    error = _failure(fetch, config_for(server, username_env="Hunter2"))  # mixed case: maybe a pasted secret
    assert str(error).endswith("environment variable named by config.username_env is not set")


def test_server_errors_and_timeouts_are_transient(server, fetch, config_for):
    server.fail_next(503, "<html>Service Unavailable</html>")
    error = _failure(fetch, config_for(server))
    assert isinstance(error, TransientSourceError)
    assert str(error).endswith("answered HTTP 503: <html>Service Unavailable</html>")
    server.delay = 1.0
    error = _failure(fetch, config_for(server, timeout=0.2))
    assert isinstance(error, TransientSourceError)
    assert "no answer from" in str(error) and str(error).endswith("within 0.2 s")


def test_nothing_listening_is_transient(fetch, config_for, server):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    config = {**config_for(server), "base_url": f"http://127.0.0.1:{closed}"}
    error = _failure(fetch, config)
    assert isinstance(error, TransientSourceError)
    assert str(error) == f"source 'scanners' (Calpendo): querying bookings: cannot connect to http://127.0.0.1:{closed}"


def test_answers_that_are_not_the_api_s_json(server, fetch, config_for):
    server.fail_next(200, "<html><body>Please log in</body></html>")
    assert "did not answer JSON (text/html); check base_url and api_path" in str(_failure(fetch, config_for(server)))
    server.fail_next(200, '{"bookings": []}', "application/json")
    assert str(_failure(fetch, config_for(server))).endswith(
        'querying bookings: the answer is not {"biskits": [{"id": ...}, ...]}')
    (booking_id,) = server.bookings
    server.fail_next(200, "[1, 2]", "application/json", times=1)
    server.faults.insert(0, (200, "application/json", f'{{"biskits": [{{"id": {booking_id}}}]}}'))
    error = _failure(fetch, config_for(server))
    assert str(error).endswith(f"reading booking {booking_id}: the answer is not a JSON object")


def test_a_server_that_echoes_the_password_has_it_blanked(server, fetch, config_for):
    server.fail_next(400, f"Invalid query for user mwl-reader with password {PASSWORD}", "text/plain")
    error = _failure(fetch, config_for(server))
    assert str(error).endswith("answered HTTP 400: Invalid query for user *** with password ***")


def test_a_server_error_is_retried_within_the_sync_and_then_lands(server, registry, config_for, database_url):
    server.fail_next(500, "<html>Internal Server Error</html>")
    source = DataSourceSettings(name="scanners", type="calpendo", config=config_for(server), field_mapping=MAPPING)
    database = Database.open(database_url)
    try:
        result = sync_source(database, registry, source, retry_wait=0)
        with database.session() as session:
            titles = session.query(WorklistItem.patient_id).all()
            runs = session.query(SyncRun.outcome).all()
    finally:
        database.close()
    assert (result.outcome, result.inserted) == ("success", 1), result.error
    assert [t for (t,) in titles] == ["SUB001"] and [o for (o,) in runs] == ["success"]
    assert len(server.queries()) == 2  # the failed query, then the one that worked
