"""validate_config: every problem with its path, the legacy spelling, and no token in the output."""

from __future__ import annotations

import pytest


def _problems(registry, config):
    return {(p.path, p.severity): p.message for p in registry.validate_config("redcap", config)}


@pytest.fixture(autouse=True)
def _environment(monkeypatch, token):
    monkeypatch.setenv("REDCAP_API_URL", "https://redcap.example.org/api/")
    monkeypatch.setenv("REDCAP_API_TOKEN", token)


def test_full_config_is_valid(registry):
    config = {
        "api_url_env": "REDCAP_API_URL", "api_token_env": "REDCAP_API_TOKEN", "fields": ["study_id"],
        "events": ["t1_arm_1"], "arms": [1], "repeat_instrument": "mri", "require_fields": ["mri_date"],
        "filter_logic": "[consent] = '1'", "site_id": "792", "site_field": "site",
        "protocol": {"792": "BRAIN_MRI_3T"}, "unknown_fields": "warn", "incremental": True,
        "full_export_interval": 86400, "server_timezone": "America/Edmonton", "timeout": 30,
    }
    assert _problems(registry, config) == {}
    assert _problems(registry, {"site": "792", "protocol": "BRAIN_MRI_3T"}) == {}


def test_every_problem_is_reported_with_its_path(registry):
    problems = _problems(registry, {
        "fields": ["Study ID"], "timeout": 0, "incremental": "yes", "sight_id": "1", "events": "t1",
    })
    assert set(problems) == {
        ("fields.0", "error"), ("timeout", "error"), ("incremental", "error"), ("sight_id", "error"),
        ("events", "error"),
    }
    assert problems[("sight_id", "error")] == "unknown key; did you mean 'site_id'?"


def test_cross_key_problems(registry, monkeypatch):
    monkeypatch.delenv("REDCAP_API_URL")
    assert _problems(registry, {"protocol": {"792": "X"}, "site_field": "site", "server_timezone": "Mars/Base"}) == {
        ("api_url_env", "warning"): "environment variable REDCAP_API_URL is not set here",
        ("protocol", "error"): "a per-site protocol map needs site_id (or site)",
        ("site_field", "error"): "filtering on a site field needs site_id (or site)",
        ("server_timezone", "error"): (
            "unknown time zone 'Mars/Base'; use an IANA name such as 'America/Edmonton' or 'UTC'"),
    }
    assert _problems(registry, {"site": "793", "protocol": {"792": "X"}})[("protocol", "warning")] == (
        "has no entry for site '793'; entries get no protocol"
    )


def test_a_token_pasted_into_the_config_is_never_echoed(registry, token):
    problems = _problems(registry, {"api_token_env": token, "api_url_env": token.lower()})
    assert set(problems) == {("api_token_env", "error"), ("api_url_env", "error")}
    assert problems[("api_token_env", "error")].startswith("looks like an API token, not the name of")
    assert all(token not in message for message in problems.values())
    assert all(token not in message for message in _problems(registry, {"api_token_env": token + "!"}).values())


@pytest.mark.parametrize("source_type", ["redcap", "redcap_concussion"])
def test_previous_entry_matches_by_the_previous_patient_id(registry, source_type):
    """A source converted from a previous configuration (``previous_identifiers``) builds the previous
    patient IDs, so a previous row is known by its patient ID; any other source cannot know it."""
    owner = registry.owner(source_type)
    entries = [{"patient_id": "sub_1001_ses_1_fam_501_site_792", "data_source": "cpip"}, {"patient_id": None}]

    def matches(config):
        [found] = registry.call_hook(owner, "previous_entry_matches", source_type=source_type, config=config,
                                     entries=entries)
        return list(found)

    assert matches({"previous_identifiers": True, "site_id": "792"}) == [
        {"patient_id": "sub_1001_ses_1_fam_501_site_792"}, None]
    assert matches({"site_id": "792"}) == [None, None]
