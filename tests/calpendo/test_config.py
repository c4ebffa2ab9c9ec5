"""validate_config: every problem with its path and a did-you-mean, never a credential in a message."""

from __future__ import annotations

import pytest

GOOD = {"base_url": "https://site.calpendo.com", "resources": ["3T Diagnostic"], "timezone": "America/Edmonton"}


def _problems(registry, config):
    return {(p.path, p.severity): p.message for p in registry.validate_config("calpendo", config)}


@pytest.fixture(autouse=True)
def _credentials(monkeypatch):
    monkeypatch.setenv("CALPENDO_USERNAME", "mwl-reader")
    monkeypatch.setenv("CALPENDO_PASSWORD", "not-checked-here")


def test_the_previous_pylantirs_keys_are_valid(registry):
    assert _problems(registry, {
        **GOOD, "api_path": "/api", "resources": ["3T Diagnostic", "EEG Lab"], "status_filter": "Approved",
        "resource_modality_mapping": {"3T": "MR", "EEG": "EEG", "Mock": "OT"}, "window_mode": "today",
    }) == {}
    assert _problems(registry, {**GOOD, "api_path": "webdav", "daily_window": {"start_time": [18, 0],
                                                                               "end_time": [6, 0]}}) == {}


def test_every_key_is_valid_together(registry, monkeypatch):
    monkeypatch.setenv("SCANNER_USER", "u")
    monkeypatch.setenv("SCANNER_PASSWORD", "p")
    assert _problems(registry, {
        **GOOD, "api_path": "/webdav/", "status_filter": ["Approved", "Cancelled"], "projects": ["BRISKP"],
        "resource_modality_mapping": {"3T": "MR"}, "window_mode": "rolling", "lookback_minutes": 90,
        "lookahead_hours": 48, "mri_operator": False, "username_env": "SCANNER_USER",
        "password_env": "SCANNER_PASSWORD", "timeout": 10,
    }) == {}


def test_every_problem_is_reported_with_its_path(registry):
    problems = _problems(registry, {
        "base_url": "site.calpendo.com", "api_path": "/", "resurces": ["3T"], "timezone": "Mars/Base",
        "status_filter": 3, "window_mode": "weekly", "daily_window": {"start_time": [25, 0]},
        "lookback_minutes": 0, "resource_modality_mapping": {"3T": "mr"}, "mri_operator": "yes",
        "username_env": "calpendo user",
    })
    assert problems == {
        ("base_url", "error"): "must be the server's address, like https://yoursite.calpendo.com",
        ("api_path", "error"): "must be the API's path on the server: '/api' (Calpendo 11+) or '/webdav' (older)",
        ("resources", "error"): "required",
        ("resurces", "error"): "unknown key; did you mean 'resources'?",
        ("timezone", "error"): "unknown time zone 'Mars/Base'; use an IANA name such as 'America/Edmonton' or 'UTC'",
        ("status_filter", "error"): "Input should be a valid list",
        ("window_mode", "error"): "Input should be 'rolling' or 'today'",
        ("daily_window.start_time", "error"): "must be [hour, minute] with hour 0-23 and minute 0-59",
        ("daily_window.end_time", "error"): "required",
        ("lookback_minutes", "error"): "Input should be greater than 0",
        ("resource_modality_mapping.3T", "error"): "String should match pattern '^[A-Z0-9_ ]{1,16}$'",
        ("mri_operator", "error"): "Input should be a valid boolean",
        ("username_env", "error"): "String should match pattern '^[A-Za-z_][A-Za-z0-9_]*$'",
    }
    assert _problems(registry, {**GOOD, "resources": []}) == {
        ("resources", "error"): "must name at least one Calpendo resource, e.g. ['3T Diagnostic']",
    }


def test_problems_between_keys(registry):
    assert _problems(registry, {
        **GOOD, "base_url": "https://site.calpendo.com/webdav", "resources": ["3T Diagnostic", "MEG"],
        "resource_modality_mapping": {"3T": "MR"}, "window_mode": "rolling", "lookahead_hours": 12,
        "daily_window": {"start_time": [22, 0], "end_time": [6, 0]},
    }) == {
        ("base_url", "warning"): "ends with '/webdav', which belongs in api_path",
        ("resource_modality_mapping", "error"): "no entry (exact name or prefix) for resource 'MEG'; add one",
        ("window_mode", "error"): "a daily_window replaces the rolling window; leave it out",
        ("lookahead_hours", "warning"): "only used by the rolling window; ignored here",
    }


def test_unset_variables_are_warnings_and_a_pasted_password_is_never_repeated(registry, monkeypatch):
    monkeypatch.delenv("CALPENDO_USERNAME")
    monkeypatch.delenv("CALPENDO_PASSWORD")
    assert _problems(registry, GOOD) == {
        ("username_env", "warning"): "environment variable CALPENDO_USERNAME is not set here",
        ("password_env", "warning"): "environment variable CALPENDO_PASSWORD is not set here",
    }
    pasted = _problems(registry, {**GOOD, "password_env": "Tr0ub4dor"})
    assert pasted[("password_env", "warning")] == "environment variable named by config.password_env is not set here"
    assert "Tr0ub4dor" not in str(pasted)


def test_credentials_in_the_url_are_refused_without_repeating_them(registry):
    problems = _problems(registry, {**GOOD, "base_url": "https://mwl-reader:S3cret-pw@site.calpendo.com"})
    assert problems == {("base_url", "error"): "must not hold a user or password; they go in the variables named "
                                               "by username_env and password_env"}
    assert _problems(registry, {**GOOD, "password": "S3cret-pw"}) == {
        ("password", "error"): "unknown key; did you mean 'password_env'?",
    }


def test_a_calpendo_source_cannot_write_back(tmp_path):
    """The plugin does not implement write_back (docs/sources-calpendo.md says why): the block is refused."""
    import json

    from click.testing import CliRunner

    from pylantir.cli.main import cli

    path = tmp_path / "pylantir.json"
    path.write_text(json.dumps({"data_sources": [{
        "name": "scanners", "type": "calpendo", "config": GOOD, "field_mapping": {"title": "patient_id"},
        "write_back": {"config": {"status": "Scanned"}}}]}))
    result = CliRunner().invoke(cli, ["config", "check", str(path)])
    assert result.exit_code != 0
    assert "data_sources.0.write_back (source 'scanners'): plugin pylantir-calpendo" in result.output
    assert "does not implement the write_back hook" in result.output
