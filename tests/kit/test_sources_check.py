"""``pylantir sources check``: every configured source validated through its plugin; --fetch maps without writing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pylantir.cli.main import cli


@pytest.fixture
def check(tmp_path: Path, sample_plugin_dir: Path, sample_mapping, monkeypatch):
    """``check(*sources, args=[...])`` writes a config with these sources and runs the command."""
    monkeypatch.setenv("PYLANTIR_LOAD_PLUGINS", "sample_source")

    def run(*sources: dict, args: tuple[str, ...] = ()):
        for source in sources:
            source.setdefault("field_mapping", sample_mapping)
        config = tmp_path / "pylantir.json"
        config.write_text(json.dumps({
            "database_url": f"sqlite:///{tmp_path / 'worklist.sqlite'}",
            "plugins_dir": str(sample_plugin_dir),
            "data_sources": list(sources),
        }))
        return CliRunner().invoke(cli, ["sources", "check", "--config", str(config), *args])

    return run


def test_valid_sources_pass(check):
    result = check({"name": "a", "type": "sample", "config": {"count": 1}}, {"name": "b", "type": "sample"})
    assert result.exit_code == 0, result.output
    assert "source a (type sample, plugin sample_source" in result.output
    assert result.output.count("): ok") == 2


def test_config_problems_are_listed_with_their_path_and_fail(check):
    result = check({"name": "a", "type": "sample", "config": {"count": "x", "colour": 1}}, args=("--json",))
    assert result.exit_code == 1
    [report] = json.loads(result.output)
    found = {(p["path"], p["severity"]) for p in report["problems"]}
    assert found == {("config.count", "error"), ("config.colour", "error")}


def test_a_type_no_plugin_provides_is_a_problem_naming_installed_types(check):
    result = check({"name": "a", "type": "sampel"})
    assert result.exit_code == 1
    assert "FAILED" in result.output and "did you mean 'sample'?" in result.output


def test_an_unknown_source_name_is_a_usage_error_listing_the_names(check):
    result = check({"name": "a", "type": "sample"}, args=("--source", "zzz"))
    assert result.exit_code == 2
    assert "no data source named 'zzz' (configured: a)" in result.output


def test_fetch_shows_entries_and_rejections_without_touching_the_database(check, tmp_path):
    result = check({"name": "a", "type": "sample", "config": {"count": 2, "bad_rows": True}}, args=("--fetch",))
    assert result.exit_code == 0, result.output
    assert "Doe^Pat1" in result.output and "fetched 4: 2 entries, 2 rejected" in result.output
    assert "unreadable row" in result.output
    assert not (tmp_path / "worklist.sqlite").exists()


def test_fetch_json_and_one_source(check):
    result = check(
        {"name": "a", "type": "sample", "config": {"count": 1, "bad_rows": True}},
        {"name": "b", "type": "sample", "config": {"fail": "export missing"}},
        args=("--fetch", "--json", "--source", "a"),
    )
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.output)
    assert [e["patient_id"] for e in report["entries"]] == ["S1"]
    rejected = [(r["location"], r["field"]) for r in report["rejected"]]
    assert rejected == [("record 2", "scheduled_start_date"), ("row 10", None)]


def test_a_failing_fetch_fails_the_check_with_the_plugin_message(check):
    result = check({"name": "b", "type": "sample", "config": {"fail": "export missing"}}, args=("--fetch",))
    assert result.exit_code == 1
    assert "fetch failed: source b: export missing" in result.output


def test_a_bad_field_mapping_is_a_problem(check):
    result = check({"name": "a", "type": "sample", "field_mapping": {"patient_idd": {"from": "id"}}}, args=("--json",))
    assert result.exit_code == 1
    [report] = json.loads(result.output)
    assert [p["path"] for p in report["problems"]] == ["field_mapping.patient_idd"]
    assert "not a worklist field" in report["problems"][0]["message"]


def test_strict_mode_fails_on_a_broken_plugin_even_when_sources_are_fine(check, sample_plugin_dir, monkeypatch):
    (sample_plugin_dir / "broken.py").write_text("1/0\n")
    monkeypatch.setenv("PYLANTIR_LOAD_PLUGINS", "sample_source,broken")
    assert check({"name": "a", "type": "sample"}).exit_code == 0
    monkeypatch.setenv("PYLANTIR_STRICT_PLUGINS", "1")
    result = check({"name": "a", "type": "sample"})
    assert result.exit_code == 3
    assert "broken" in result.output and "ZeroDivisionError" in result.output
