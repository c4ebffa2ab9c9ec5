"""``pylantir config check`` and ``pylantir config example``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pylantir.config import load_config
from pylantir.config.example import EXAMPLE_CONFIG, strip_comments


def sources_config(*sources: dict) -> dict:
    return {"plugins_dir": "plugins", "data_sources": list(sources)}


def test_check_ok_prints_one_line_per_source(write_config, check_plugin_dir, run):
    path = write_config(
        sources_config(
            {"name": "a", "type": "alpha", "config": {"path": "/x"}, "field_mapping": {"x": "patient_id"}},
            {"name": "b", "type": "beta", "enabled": False, "sync_interval": 300},
        )
    )
    result = run("config", "check", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"OK: {path}",
        "  a (type alpha): enabled, every 60s between 00:00 and 23:59, 1 field mapping entries",
        "  b (type beta): disabled, every 300s between 00:00 and 23:59, 0 field mapping entries",
    ]


def test_check_reports_every_plugin_error_with_its_config_path(write_config, check_plugin_dir, run):
    path = write_config(
        sources_config(
            {"name": "a", "type": "alpha", "config": {"paht": "/x"}},
            {"name": "b", "type": "beta"},
            {"name": "c", "type": "alpha", "config": {"path": 3}},
        )
    )
    result = run("config", "check", str(path))
    assert result.exit_code == 1
    assert f"invalid configuration {path} (3 error(s)):" in result.stderr
    assert "  - data_sources.0.config.paht (source 'a'): unknown key; did you mean 'path'?" in result.stderr
    assert "  - data_sources.0.config.path (source 'a'): required" in result.stderr
    assert "  - data_sources.2.config.path (source 'c'): Input should be a valid string" in result.stderr
    assert "OK" not in result.stdout


def test_check_reports_field_mapping_errors_with_their_path(write_config, check_plugin_dir, run):
    path = write_config(
        sources_config(
            {
                "name": "a",
                "type": "alpha",
                "config": {"path": "/x"},
                "field_mapping": {"patient_id": {"from": "pid", "template": "x{y}"}, "dob": "patient_brith_date"},
            }
        )
    )
    result = run("config", "check", str(path))
    assert result.exit_code == 1
    assert "data_sources.0.field_mapping.patient_id (source 'a')" in result.stderr
    assert "patient_id" in result.stderr and "patient_brith_date" in result.stderr
    assert "OK" not in result.stdout


def test_check_unknown_source_type(write_config, check_plugin_dir, run):
    path = write_config(sources_config({"name": "a", "type": "alhpa"}, {"name": "b", "type": "zzz"}))
    result = run("config", "check", str(path))
    assert result.exit_code == 1
    assert (
        "data_sources.0.config (source 'a'): unknown source type 'alhpa'; installed types: alpha, beta; "
        "did you mean 'alpha'?" in result.stderr
    )
    assert "data_sources.1.config (source 'b'): unknown source type 'zzz'; installed types: alpha, beta\n" in (
        result.stderr
    )


def test_check_prints_warnings_without_failing(write_config, check_plugin_dir, run):
    path = write_config(sources_config({"name": "a", "type": "alpha", "config": {"path": "/x", "warn": True}}))
    result = run("config", "check", str(path))
    assert result.exit_code == 0, result.output
    assert f"warning: {path}: data_sources.0.config.path (source 'a'): the file does not exist yet" in result.stdout
    assert f"OK: {path}" in result.stdout


def test_check_lists_file_errors_before_any_plugin_runs(write_config, check_plugin_dir, run):
    path = write_config({"timezone": "Nowhere", "data_sources": [{"name": "a"}]})
    result = run("config", "check", str(path))
    assert result.exit_code == 1
    assert "  - timezone: unknown time zone 'Nowhere'" in result.stderr
    assert "  - data_sources.0.type: required" in result.stderr


def test_check_as_a_user_runs_it_with_pylantir_config(write_config, check_plugin_dir):
    path = write_config(sources_config({"name": "a", "type": "alpha"}))
    result = subprocess.run(
        [sys.executable, "-m", "pylantir", "config", "check"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYLANTIR_CONFIG": str(path)},
        timeout=60,
    )
    assert result.returncode == 1
    assert "data_sources.0.config.path (source 'a'): required" in result.stderr
    assert "Traceback" not in result.stderr


def test_example_has_comments_and_loads_once_they_are_stripped(write_config, run):
    result = run("config", "example", "--commented")
    assert result.exit_code == 0
    assert result.stdout == EXAMPLE_CONFIG
    assert sum(line.lstrip().startswith("//") for line in result.stdout.splitlines()) >= 5
    plain = strip_comments(result.stdout)
    config = load_config(write_config(plain))
    assert {source.type for source in config.data_sources} == {"redcap", "csv"}
    assert json.loads(plain)["timezone"] == config.timezone


def test_the_documented_example_is_the_printed_one():
    docs = Path(__file__).parents[3] / "docs" / "configuration.md"
    text = docs.read_text(encoding="utf-8")
    start = text.index("```jsonc\n") + len("```jsonc\n")
    assert text[start : text.index("```", start)] == EXAMPLE_CONFIG


def test_unknown_type_names_plugins_that_did_not_load(write_config, check_plugin_dir, run, monkeypatch):
    (check_plugin_dir / "broken.py").write_text("1 / 0\n")
    monkeypatch.setenv("PYLANTIR_LOAD_PLUGINS", "checktypes,broken")
    result = run("config", "check", str(write_config(sources_config({"name": "a", "type": "ris"}))))
    assert result.exit_code == 1
    assert (
        "unknown source type 'ris'; installed types: alpha, beta "
        "(plugins with problems: broken (error); see 'pylantir sources list')" in result.stderr
    )


def test_example_is_valid_json_with_the_installed_types_only(write_config, check_plugin_dir, run):
    result = run("config", "example")
    assert result.exit_code == 0
    example = json.loads(result.stdout)  # valid JSON as printed: no comment lines
    assert example["data_sources"] == []  # the test plugins provide neither redcap nor csv
    assert "note: example source 'site_a_redcap' left out: it needs the plugin pylantir-redcap" in result.stderr
    assert "note: example source 'site_b_csv' left out: it needs the plugin pylantir-csv" in result.stderr
    load_config(write_config(example))


def test_a_file_with_comment_lines_is_told_to_remove_them(write_config, run):
    path = write_config(EXAMPLE_CONFIG)
    result = run("config", "check", str(path))
    assert result.exit_code == 1
    assert "invalid JSON at line 1, column 1" in result.stderr
    assert "remove the comment lines (starting with //): JSON has no comments" in result.stderr


def test_check_reports_file_errors_and_source_errors_in_one_run(write_config, check_plugin_dir, run):
    path = write_config({
        "plugins_dir": "plugins", "timezone": "Nowhere",
        "data_sources": [{"name": "a", "type": "alhpa"}, {"name": "b", "type": "alpha", "config": {"paht": "/x"}},
                         {"name": "c", "type": "alpha", "sync_interval": -1},
                         {"name": "d", "type": "beta", "field_mapping": {"dob": "patient_brith_date"}}],
    })
    result = run("config", "check", str(path))
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
    assert errors[0].startswith("  - timezone: unknown time zone 'Nowhere'")
    assert errors[1] == "  - data_sources.2.sync_interval: Input should be greater than 0"
    assert any(line.startswith("  - data_sources.0.config (source 'a'): unknown source type 'alhpa'")
               for line in errors)
    assert "  - data_sources.1.config.paht (source 'b'): unknown key; did you mean 'path'?" in errors
    assert any(line.startswith("  - data_sources.3.field_mapping.dob (source 'd'): 'patient_brith_date'")
               for line in errors)
    assert not any("(source 'c')" in line for line in errors)  # its own block is invalid: not checked further
