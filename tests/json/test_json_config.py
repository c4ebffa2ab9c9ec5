"""validate_config of the json source: formats, records_path, unknown keys, the "no file yet" warning."""

from __future__ import annotations

from pathlib import Path

from pylantir import ConfigProblem
from pylantir.plugins import PluginRegistry


def test_valid_configs(registry: PluginRegistry, tmp_path: Path):
    path = tmp_path / "bookings.json"
    path.write_text("[]")
    for extra in ({}, {"format": "jsonl"}, {"format": "object", "records_path": "data.items"}):
        assert registry.validate_config("json", {"file_path": str(path), "watch_for_changes": True} | extra) == []


def test_records_path_goes_with_format_object(registry: PluginRegistry):
    assert registry.validate_config("json", {"file_path": "x.json", "format": "object"}) == [
        ConfigProblem("records_path", "required with format 'object': the dotted path to the array of records")
    ]
    assert registry.validate_config("json", {"file_path": "x.json", "format": "jsonl", "records_path": "a"}) == [
        ConfigProblem("records_path", "only used with format 'object' (the format here is 'jsonl')")
    ]
    (bad_path,) = registry.validate_config("json", {"file_path": "x", "format": "object", "records_path": "a..b"})
    assert bad_path.path == "records_path" and "single dots" in bad_path.message


def test_wrong_types_and_unknown_keys(registry: PluginRegistry):
    config = {"file_path": ["a.json"], "format": "xml", "recordspath": "a", "watch_for_changes": 1}
    problems = {p.path: p.message for p in registry.validate_config("json", config)}
    assert set(problems) == {"file_path", "format", "recordspath", "watch_for_changes"}
    assert problems["format"] == "Input should be 'array', 'object' or 'jsonl'"
    assert problems["recordspath"] == "unknown key; did you mean 'records_path'?"


def test_a_missing_file_is_a_warning(registry: PluginRegistry, tmp_path: Path):
    (warning,) = registry.validate_config("json", {"file_path": str(tmp_path / "*.jsonl"), "format": "jsonl"})
    assert (warning.path, warning.severity) == ("file_path", "warning")


def test_the_declared_config_schema_is_the_config_models_json_schema(registry: PluginRegistry):
    from pylantir_json.config import JsonConfig

    schema = registry.source_types()["json"].config_schema
    assert schema is not None and dict(schema) == JsonConfig.model_json_schema()
