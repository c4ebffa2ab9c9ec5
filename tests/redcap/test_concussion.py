"""``redcap_concussion``: the REDCap source with the previous Pylantir's second pair of variables."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pylantir import FetchState, SourceError
from pylantir.testing import load_distribution

CONCUSSION_URL, CONCUSSION_TOKEN = "REDCAP_API_URL_CONCUSSION", "REDCAP_API_TOKEN_CONCUSSION"
MAPPING = {
    "patient_id": {"template": "p{record_id}"},
    "name": "patient_name",
    "scan_date": "scheduled_start_date",
    "modality": {"value": "MR"},
}


@pytest.fixture
def two_projects(serve, classic, longitudinal, monkeypatch, token):
    """The longitudinal project behind the concussion variables, the classic one behind the usual ones."""
    concussion = serve(longitudinal)
    monkeypatch.setenv(CONCUSSION_URL, concussion.url)
    monkeypatch.setenv(CONCUSSION_TOKEN, token)
    standard = serve(classic)  # sets REDCAP_API_URL / REDCAP_API_TOKEN to the classic project
    return standard, concussion


def _fetch(registry, source_type, config):
    return list(registry.fetch_entries(source_type, "study", config, frozenset({"record_id"}), FetchState()))


def test_one_distribution_provides_both_types():
    registry, info = load_distribution("pylantir-redcap")
    assert {t.name for t in info.source_types} == {"redcap", "redcap_concussion"}
    assert registry.owner("redcap_concussion") is registry.owner("redcap") is info


def test_each_type_reads_its_own_environment_variables(registry, two_projects):
    standard, concussion = two_projects
    concussion_rows = _fetch(registry, "redcap_concussion", {"repeat_instrument": "mri"})
    standard_rows = _fetch(registry, "redcap", {})
    assert [r.location for r in concussion_rows] == [
        "record 1 t1_arm_1 mri #1", "record 1 t2_arm_1 mri #1", "record 1 t2_arm_1 mri #2", "record 2 t1_arm_2 mri #1",
    ]
    assert [r.location for r in standard_rows] == ["record 1", "record 2", "record 3"]
    assert concussion.records_requests() and standard.records_requests()


def test_variables_named_in_the_config_win_over_the_type_defaults(registry, two_projects, monkeypatch, token):
    standard, _ = two_projects
    monkeypatch.setenv("STUDY_URL", standard.url)
    monkeypatch.setenv("STUDY_TOKEN", token)
    rows = _fetch(registry, "redcap_concussion", {"api_url_env": "STUDY_URL", "api_token_env": "STUDY_TOKEN"})
    assert [r.location for r in rows] == ["record 1", "record 2", "record 3"]


def test_config_check_and_fetch_name_the_concussion_variables(registry, monkeypatch):
    for name in ("REDCAP_API_URL", "REDCAP_API_TOKEN", CONCUSSION_URL, CONCUSSION_TOKEN):
        monkeypatch.delenv(name, raising=False)
    problems = {(p.path, p.severity): p.message for p in registry.validate_config("redcap_concussion", {})}
    assert problems == {
        ("api_url_env", "warning"): f"environment variable {CONCUSSION_URL} is not set here",
        ("api_token_env", "warning"): f"environment variable {CONCUSSION_TOKEN} is not set here",
    }
    monkeypatch.setenv(CONCUSSION_URL, "https://redcap.example.org/api/")
    missing = f"source 'study' \\(REDCap\\): environment variable {CONCUSSION_TOKEN} is not set"
    with pytest.raises(SourceError, match=missing):
        _fetch(registry, "redcap_concussion", {})


def test_a_redcap_and_a_concussion_source_sync_side_by_side(two_projects, tmp_path):
    config = tmp_path / "pylantir.json"
    config.write_text(json.dumps({
        "database_url": f"sqlite:///{tmp_path / 'worklist.sqlite'}",
        "data_sources": [
            {"name": "cpip", "type": "redcap", "field_mapping": MAPPING,
             "config": {"require_fields": ["scan_date"]}},
            {"name": "concussion", "type": "redcap_concussion", "config": {
                "repeat_instrument": "mri", "require_fields": ["mri_date"]},
             "field_mapping": {"patient_id": {"template": "c{record_id}_{mri_instance}"}, "study_id": "patient_name",
                               "mri_date": "scheduled_start_date", "modality": {"value": "MR"}}},
        ],
    }), encoding="utf-8")
    pylantir = str(Path(sys.executable).with_name("pylantir"))
    synced = subprocess.run([pylantir, "sync", "--config", str(config)], capture_output=True, text=True, timeout=120)
    assert synced.returncode == 0, synced.stderr
    listed = subprocess.run([pylantir, "worklist", "list", "--config", str(config), "--json"],
                            capture_output=True, text=True, timeout=60, check=True)
    by_source = sorted((item["source_name"], item["patient_id"]) for item in json.loads(listed.stdout))
    assert by_source == [("concussion", "c1_1"), ("concussion", "c1_2"), ("concussion", "c2_1"),
                         ("cpip", "p1"), ("cpip", "p2")]
