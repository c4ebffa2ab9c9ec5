"""The REDCap source inside the core's sync engine: retries of transient failures, isolation of sources."""

from __future__ import annotations

import json

from click.testing import CliRunner

from pylantir.cli.main import cli
from pylantir.config import DataSourceSettings
from pylantir.store import Database
from pylantir.sync.runner import sync_source

MAPPING = {
    "patient_id": {"template": "p{record_id}"},
    "name": "patient_name",
    "scan_date": "scheduled_start_date",
    "modality": {"value": "MR"},
}


def test_a_server_error_is_retried_within_the_sync(serve, classic, registry, database_url, monkeypatch):
    server = serve(classic)
    original, failures = server.answer, []

    def answer(path, form):
        if form.get("content") == "record" and not failures:
            failures.append(form)
            return 503, "<html>Service Unavailable</html>"
        return original(path, form)

    monkeypatch.setattr(server, "answer", answer)
    source = DataSourceSettings(name="study", type="redcap", field_mapping=MAPPING,
                                config={"require_fields": ["scan_date"]})
    database = Database.open(database_url)
    try:
        result = sync_source(database, registry, source, retry_wait=0)
    finally:
        database.engine.dispose()
    assert (result.outcome, result.inserted, len(failures)) == ("success", 2, 1)


def test_a_failing_redcap_source_leaves_the_other_sources_syncing(
    serve, classic, longitudinal, tmp_path, monkeypatch, token
):
    good = serve(classic)
    monkeypatch.setenv("GOOD_URL", good.url)
    serve(longitudinal)
    monkeypatch.setenv("REDCAP_API_TOKEN", "FEDCBA9876543210FEDCBA9876543210")  # refused by the second server
    config = tmp_path / "pylantir.json"
    config.write_text(json.dumps({
        "database_url": f"sqlite:///{tmp_path / 'worklist.sqlite'}",
        "data_sources": [
            {"name": "refused", "type": "redcap", "field_mapping": {"study_id": "patient_id"}},
            {"name": "good", "type": "redcap", "field_mapping": MAPPING, "config": {
                "api_url_env": "GOOD_URL", "api_token_env": "GOOD_TOKEN", "require_fields": ["scan_date"]}},
        ],
    }), encoding="utf-8")
    monkeypatch.setenv("GOOD_TOKEN", token)
    runner = CliRunner()
    result = runner.invoke(cli, ["sync", "--config", str(config)])
    assert result.exit_code == 1
    assert "source 'refused' (REDCap): reading the data dictionary: REDCap refused the API token" in result.output
    listed = runner.invoke(cli, ["worklist", "list", "--config", str(config), "--json"])
    assert sorted(item["patient_id"] for item in json.loads(listed.output)) == ["p1", "p2"]
