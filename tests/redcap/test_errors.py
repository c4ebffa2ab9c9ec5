"""Every failure ends as one clear SourceError naming the source; the token never shows."""

from __future__ import annotations

import logging
import socket

import pytest

from pylantir import SourceError, TransientSourceError

OTHER_TOKEN = "FEDCBA9876543210FEDCBA9876543210"
FIELDS = {"name"}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(autouse=True)
def _debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


@pytest.fixture
def server(serve, classic):
    return serve(classic)


def _fails(fetch, config=None) -> SourceError:
    with pytest.raises(SourceError) as caught:
        fetch(config or {}, FIELDS)
    assert "source 'study' (REDCap)" in str(caught.value)
    return caught.value


def test_refused_token(server, fetch, monkeypatch, caplog):
    monkeypatch.setenv("REDCAP_API_TOKEN", OTHER_TOKEN)
    error = _fails(fetch)
    assert type(error) is SourceError
    assert "refused the API token in REDCAP_API_TOKEN (HTTP 403: You do not have permissions" in str(error)
    assert OTHER_TOKEN not in str(error) and OTHER_TOKEN not in caplog.text


def test_xml_error_payload_is_read(server, fetch):
    server.fault = (403, '<?xml version="1.0"?>\n<hash><error>You do not have permissions</error></hash>')
    assert "(HTTP 403: You do not have permissions)" in str(_fails(fetch))


def test_wrong_url_path(server, fetch, monkeypatch):
    monkeypatch.setenv("REDCAP_API_URL", server.url.replace("/api/", "/redcap/api/"))
    error = _fails(fetch)
    assert type(error) is SourceError and "is not a REDCap API (HTTP 404); check REDCAP_API_URL" in str(error)


def test_url_that_is_not_an_api_url(server, fetch, monkeypatch):
    monkeypatch.setenv("REDCAP_API_URL", server.url.removesuffix("api/"))
    assert "is not a REDCap API URL (it must end with /api/)" in str(_fails(fetch))


def test_connection_refused_is_transient(server, fetch, monkeypatch):
    monkeypatch.setenv("REDCAP_API_URL", f"http://127.0.0.1:{_closed_port()}/api/")
    error = _fails(fetch)
    assert isinstance(error, TransientSourceError) and "cannot connect to http://127.0.0.1:" in str(error)


def test_timeout_is_transient(server, fetch):
    server.delay = 0.5
    error = _fails(fetch, {"timeout": 0.1})
    assert isinstance(error, TransientSourceError) and "no answer from" in str(error)


def test_server_error_is_transient(server, fetch):
    server.fault = (500, "<html>Internal Server Error</html>")
    error = _fails(fetch)
    assert isinstance(error, TransientSourceError) and "HTTP 500" in str(error)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ((400, {"error": "The value of the parameter \"format\" is not valid"}), "HTTP 400: The value of"),
        ((200, {"error": "Your project is offline"}), "REDCap answered with an error: Your project is offline"),
        ((200, '[{"record_id": "1",'), "answered with malformed JSON (is it the REDCap API URL?)"),
        ((200, "<html><body>Welcome to our intranet</body></html>"), "malformed JSON"),
        ((200, {"fields": []}), "data dictionary (content=metadata) is not a list of fields"),
    ],
)
def test_error_payloads_and_bad_bodies(server, fetch, fault, expected):
    server.fault = fault
    error = _fails(fetch)
    assert type(error) is SourceError and expected in str(error)


def test_record_export_that_is_not_a_list(server, fetch, monkeypatch):
    original = server.answer

    def answer(path, form):
        return (200, {"unexpected": True}) if form.get("content") == "record" else original(path, form)

    monkeypatch.setattr(server, "answer", answer)
    assert "record export (content=record) is not a list of rows" in str(_fails(fetch))


def test_project_information_without_a_project_id(server, fetch, monkeypatch):
    original = server.answer

    def answer(path, form):
        return (200, {"project_title": "x"}) if form.get("content") == "project" else original(path, form)

    monkeypatch.setattr(server, "answer", answer)
    assert "project information (content=project) has no project_id" in str(_fails(fetch))


def test_missing_environment_variables(server, fetch, monkeypatch):
    monkeypatch.delenv("REDCAP_API_TOKEN")
    assert "environment variable REDCAP_API_TOKEN is not set" in str(_fails(fetch))
    monkeypatch.setenv("STUDY_URL", server.url)
    assert "environment variable STUDY_TOKEN is not set" in str(
        _fails(fetch, {"api_url_env": "STUDY_URL", "api_token_env": "STUDY_TOKEN"})
    )


def test_malformed_token_is_not_echoed(server, fetch, monkeypatch):
    monkeypatch.setenv("REDCAP_API_TOKEN", "not-a-token-but-secret")
    error = _fails(fetch)
    assert "REDCAP_API_TOKEN is not a REDCap API token" in str(error)
    assert "not-a-token-but-secret" not in str(error)


def test_token_echoed_by_the_server_is_blanked(server, fetch, caplog, token):
    server.fault = (400, {"error": f"token {token} is locked"})
    error = _fails(fetch)
    assert "token *** is locked" in str(error)
    assert token not in str(error) and token not in caplog.text
