"""validate_config of the csv source: precise problems for wrong types and unknown keys, no I/O errors."""

from __future__ import annotations

from pathlib import Path

from pylantir import ConfigProblem
from pylantir.plugins import PluginRegistry


def test_a_valid_config_for_an_existing_file_has_no_problem(registry: PluginRegistry, tmp_path: Path):
    path = tmp_path / "site.csv"
    path.write_text("patient_id\n1\n")
    config = {
        "file_path": str(path),
        "encoding": "latin-1",
        "delimiter": "tab",
        "skip_rows": 2,
        "watch_for_changes": "hash",
        "filter": {"column": "site", "in": ["A", "B"]},
    }
    assert registry.validate_config("csv", config) == []


def test_every_problem_is_reported_at_once_with_its_path(registry: PluginRegistry, tmp_path: Path):
    config = {
        "file_path": 42,
        "encodng": "utf-8",
        "delimiter": ":",
        "skip_rows": -1,
        "watch_for_changes": "yes",
        "filter": {"column": "site", "equals": "A", "in": ["B"]},
    }
    problems = {p.path: p for p in registry.validate_config("csv", config)}
    assert set(problems) == {"file_path", "encodng", "delimiter", "skip_rows", "watch_for_changes", "filter"}
    assert problems["encodng"].message == "unknown key; did you mean 'encoding'?"
    assert problems["watch_for_changes"].message == 'must be true, false, "mtime" or "hash"'
    assert problems["filter"].message == "give exactly one of 'equals' and 'in'"
    assert "','" in problems["delimiter"].message and "'tab'" in problems["delimiter"].message
    assert all(p.severity == "error" for p in problems.values())


def test_strings_are_not_coerced(registry: PluginRegistry, tmp_path: Path):
    problems = registry.validate_config("csv", {"file_path": str(tmp_path), "skip_rows": "2"})
    assert [p.path for p in problems] == ["skip_rows"]


def test_unknown_and_non_ascii_encodings_are_rejected(registry: PluginRegistry, tmp_path: Path):
    unknown = registry.validate_config("csv", {"file_path": "x.csv", "encoding": "utf-9"})
    assert unknown == [ConfigProblem("encoding", "unknown encoding 'utf-9' (e.g. utf-8, latin-1, cp1252)")]
    (wide,) = registry.validate_config("csv", {"file_path": "x.csv", "encoding": "utf-16"})
    assert wide.path == "encoding" and "not supported for CSV" in wide.message


def test_a_missing_file_or_empty_glob_is_a_warning_not_an_error(registry: PluginRegistry, tmp_path: Path):
    later = tmp_path / "later.csv"
    assert registry.validate_config("csv", {"file_path": str(later)}) == [
        ConfigProblem("file_path", f"file '{later}' does not exist yet; the source fails until it does", "warning")
    ]
    (empty_glob,) = registry.validate_config("csv", {"file_path": str(tmp_path / "*.csv")})
    assert empty_glob.severity == "warning" and "no file matches" in empty_glob.message


def test_filter_needs_a_column(registry: PluginRegistry):
    problems = registry.validate_config("csv", {"file_path": "x.csv", "filter": {"equals": "A"}})
    assert [(p.path, p.message) for p in problems] == [("filter.column", "required")]



def test_the_declared_config_schema_is_the_config_models_json_schema(registry: PluginRegistry):
    from pylantir_csv.config import CsvConfig

    schema = registry.source_types()["csv"].config_schema
    assert schema is not None and dict(schema) == CsvConfig.model_json_schema(by_alias=True)
