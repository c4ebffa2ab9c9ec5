"""``pylantir sync`` and ``pylantir sources status`` end to end, with a plugin file from --plugins-dir."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pylantir.cli.main import cli

PLUGIN = '''
import json
from pylantir import SourceError, SourceType, hookimpl

@hookimpl
def source_types():
    return [SourceType("rowsfile", "rows from a JSON file")]

@hookimpl
def fetch_entries(config):
    try:
        with open(config["path"]) as handle:
            rows = json.load(handle)
    except OSError:
        raise SourceError(f"cannot read {config['path']}")
    yield from rows
'''


def _setup(tmp_path: Path, kit, sources: list[dict]) -> tuple[Path, Path]:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "rowsfile.py").write_text(PLUGIN)
    config = tmp_path / "pylantir.json"
    config.write_text(json.dumps({
        "database_url": f"sqlite:///{tmp_path / 'worklist.sqlite'}",
        "data_sources": [{"type": "rowsfile", "field_mapping": kit.MAPPING, **s} for s in sources],
    }))
    return plugins, config


def _invoke(plugins: Path, *args: str):
    return CliRunner().invoke(cli, ["--plugins-dir", str(plugins), *args], catch_exceptions=False)


def test_sync_prints_a_summary_and_fails_when_a_source_fails(tmp_path: Path, kit) -> None:
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps([kit.record(1), kit.record(2)]))
    plugins, config = _setup(tmp_path, kit, [
        {"name": "good", "config": {"path": str(rows)}},
        {"name": "broken", "config": {"path": str(tmp_path / "missing.json")}},
    ])
    result = _invoke(plugins, "sync", "--config", str(config), "--source", "good")
    assert result.exit_code == 0, result.output
    assert "good" in result.output and "success" in result.output and "inserted" in result.output

    result = _invoke(plugins, "sync", "--config", str(config))
    assert result.exit_code == 1
    assert "source 'broken' failed: cannot read" in result.output
    assert "Traceback" not in result.output

    status = _invoke(plugins, "sources", "status", "--config", str(config), "--json")
    by_name = {s["name"]: s for s in json.loads(status.output)}
    assert by_name["good"]["outcome"] == "success" and by_name["good"]["counts"]["unchanged"] == 2
    assert by_name["broken"]["consecutive_failures"] == 1 and not by_name["broken"]["degraded"]
    table = _invoke(plugins, "sources", "status", "--config", str(config))
    assert "broken" in table.output and "failed" in table.output


def test_sync_refuses_a_bad_configuration_before_doing_anything(tmp_path: Path, kit) -> None:
    plugins, config = _setup(tmp_path, kit, [
        {"name": "typo", "type": "rowsfiel", "config": {}},
        {"name": "mapping", "config": {}, "field_mapping": {"patient_id": {"form": "x"}}},
    ])
    result = _invoke(plugins, "sync", "--config", str(config))
    assert result.exit_code == 1
    assert "data_sources[0] (typo)" in result.output
    assert "data_sources[1] (mapping).field_mapping.patient_id" in result.output
    assert not (tmp_path / "worklist.sqlite").exists()



def test_sync_refuses_an_unknown_source_name(tmp_path: Path, kit) -> None:
    plugins, config = _setup(tmp_path, kit, [{"name": "a", "config": {"path": "x"}}])
    unknown = _invoke(plugins, "sync", "--config", str(config), "--source", "nope")
    assert unknown.exit_code == 2 and "no enabled data source named 'nope'" in unknown.output
    assert not (tmp_path / "worklist.sqlite").exists()
