"""The REDCap source through the CLI: `config check` and `sync` never print the token."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pylantir.cli.main import cli


def _config_file(tmp_path: Path, source_config: dict) -> Path:
    path = tmp_path / "pylantir.json"
    path.write_text(json.dumps({
        "database_url": f"sqlite:///{tmp_path / 'worklist.sqlite'}",
        "data_sources": [{
            "name": "study", "type": "redcap", "config": source_config,
            "field_mapping": {"patient_id": {"template": "sub_{record_id}"}, "name": "patient_name"},
        }],
    }), encoding="utf-8")
    return path


def test_config_check_never_prints_the_token(tmp_path, monkeypatch, token):
    monkeypatch.setenv("REDCAP_API_URL", "https://redcap.example.org/api/")
    monkeypatch.setenv("REDCAP_API_TOKEN", token)
    runner = CliRunner()
    ok = runner.invoke(cli, ["-vv", "config", "check", str(_config_file(tmp_path, {"site": "792"}))])
    assert ok.exit_code == 0, ok.output
    pasted = runner.invoke(cli, ["-vv", "config", "check", str(_config_file(tmp_path, {"api_token_env": token}))])
    assert pasted.exit_code != 0
    assert "data_sources.0.config.api_token_env (source 'study'): looks like an API token" in pasted.output
    assert token not in ok.output + pasted.output


def test_sync_reports_a_refused_token_by_source_without_the_token(serve, classic, tmp_path, monkeypatch):
    serve(classic)
    refused = "FEDCBA9876543210FEDCBA9876543210"
    monkeypatch.setenv("REDCAP_API_TOKEN", refused)
    result = CliRunner().invoke(cli, ["-vv", "sync", "--config", str(_config_file(tmp_path, {}))])
    assert result.exit_code == 1
    assert "source 'study' (REDCap): reading the data dictionary: REDCap refused the API token" in result.output
    assert refused not in result.output
