"""Configuration files of the previous Pylantir, converted by the core: layout, names, mapping forms,
the one warning, and the plugin hook ``convert_previous_config`` (dispatched to the owner only)."""

from __future__ import annotations

import json
import logging
import re
import textwrap
from pathlib import Path

import pytest

from pylantir.config import ConfigError, load_config
from pylantir.config.previous import registry_converter
from pylantir.config.previous_mapping import PreviousMappingError, single_group_pattern
from pylantir.plugins import PluginRegistry

#: A plugin (loaded from a plugin directory) whose types ``alpha`` and ``beta`` convert differently.
CONVERTING_PLUGIN = textwrap.dedent(
    """
    from pylantir import SourceType, hookimpl

    CALLS = []


    @hookimpl
    def source_types():
        return [SourceType("alpha", "converts"), SourceType("beta", "converts to nothing")]


    @hookimpl
    def convert_previous_config(source_type, previous):
        CALLS.append((source_type, previous["name"]))
        if source_type == "beta":
            return None
        config = dict(previous["config"])
        config["file_path"] = config.pop("path")
        mapping = {target: {"from": spec} if isinstance(spec, str) else spec
                   for target, spec in previous["field_mapping"].items()}
        return {"config": config, "field_mapping": mapping, "notes": ["config.path is now file_path"]}
    """
)


@pytest.fixture(autouse=True)
def _no_database_override(monkeypatch):
    monkeypatch.delenv("PYLANTIR_DATABASE_URL", raising=False)


@pytest.fixture
def converting_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PluginRegistry:
    directory = tmp_path / "plugins"
    directory.mkdir()
    (directory / "converting.py").write_text(CONVERTING_PLUGIN, encoding="utf-8")
    monkeypatch.setenv("PYLANTIR_LOAD_PLUGINS", "converting")
    return PluginRegistry.discover(directory)


def deprecation(caplog) -> str:
    [record] = [r for r in caplog.records if r.name == "pylantir.config.previous"]
    return record.getMessage()


def previous_file(**sources) -> dict:
    return {"db_path": "worklist.db", "allowed_aet": ["MRI"], "data_sources": list(sources.values())}


def test_convert_previous_config_is_called_on_the_owner_with_the_mapping_forms_converted(
    write_config, converting_registry, caplog
):
    raw = previous_file(
        a={"type": "alpha", "config": {"path": "x.csv", "field_mapping": {
            "patient_id": {"source_field": "title", "_extract": {"pattern": "^([A-Z]+)_", "group": 1}},
            "accession_number": "id"}}},
        b={"name": "second", "type": "beta", "config": {"kept": 1}, "field_mapping": {"a": "patient_id"}},
    )
    with caplog.at_level(logging.WARNING):
        config = load_config(write_config(raw), convert_source=registry_converter(converting_registry))
    first, second = config.data_sources
    assert (first.name, first.config) == ("unknown", {"file_path": "x.csv"})
    assert first.field_mapping == {"patient_id": {"from": "title", "regex": "^([A-Z]+)_"},
                                   "accession_number": {"from": "id"}}
    assert (second.name, second.config, second.field_mapping) == ("second", {"kept": 1}, {"a": "patient_id"})
    plugin = converting_registry.owner("alpha").module
    assert plugin.CALLS == [("alpha", None), ("beta", "second")]
    message = deprecation(caplog)
    assert "data source 'unknown': config.path is now file_path" in message
    assert "data source (unnamed): named 'unknown'" in message


def test_the_warning_shows_a_file_that_loads_to_the_same_configuration(write_config, converting_registry, caplog):
    raw = previous_file(a={"name": "a", "type": "alpha", "sync_interval": 30, "config": {"path": "x.csv"}})
    convert = registry_converter(converting_registry)
    with caplog.at_level(logging.WARNING):
        converted = load_config(write_config(raw), convert_source=convert)
    message = deprecation(caplog)
    assert message.startswith("DEPRECATED: ")
    snippet = json.loads(message[message.index("\n{") + 1:])
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        migrated = load_config(write_config(snippet, name="migrated.json"), convert_source=convert)
    assert not [r for r in caplog.records if r.name == "pylantir.config.previous"]
    assert migrated.model_dump() == converted.model_dump()


def test_top_level_keys_and_the_previous_defaults(write_config, tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    raw = {"db_path": "data/worklist.db", "db_echo": "1", "allowed_aet": [], "legacy_mode": False,
           "mri_visit_session_mapping": {"t1": "1"}, "data_sources": [], "_comment": "annotated"}
    with caplog.at_level(logging.WARNING):
        config = load_config(write_config(raw))
    # relative to the working directory, as the previous Pylantir opened it
    assert config.database_url == f"sqlite:///{tmp_path / 'data' / 'worklist.db'}"
    assert config.database_echo is True
    assert (config.server.host, config.server.port, config.server.allowed_aets) == ("0.0.0.0", 4242, None)
    assert config.data_sources == []
    assert "mri_visit_session_mapping, legacy_mode: no longer used" in deprecation(caplog)


def test_without_db_path_the_previous_default_database(write_config, caplog):
    with caplog.at_level(logging.WARNING):
        config = load_config(write_config({"allowed_aet": ["A"]}))
    assert config.database_url == "sqlite:///" + str(Path("~/Desktop/worklist.db").expanduser())
    assert "no db_path" in deprecation(caplog)


def test_redcap2wl_beside_data_sources_was_not_used_and_says_so(write_config, caplog):
    raw = {"db_path": "w.db", "site": "1", "redcap2wl": {"a": "b"}, "data_sources": []}
    with caplog.at_level(logging.WARNING):
        assert load_config(write_config(raw)).data_sources == []
    assert "redcap2wl, site: not used, as in the previous Pylantir" in deprecation(caplog)


def test_names_are_made_valid_and_unique(write_config, caplog):
    raw = previous_file(a={"name": "Main REDCap", "type": "csv"}, b={"type": "csv"}, c={"type": "csv"})
    with caplog.at_level(logging.WARNING):
        names = [s.name for s in load_config(write_config(raw)).data_sources]
    assert names == ["Main_REDCap", "unknown", "unknown_2"]


def test_both_formats_in_one_file_is_an_error(write_config):
    with pytest.raises(ConfigError) as caught:
        load_config(write_config({"db_path": "w.db", "database_url": "sqlite:///x.db"}))
    [problem] = caught.value.problems
    assert problem.startswith("database_url: belongs to the current format, but the file also has the previous "
                              "Pylantir's 'db_path'")


def test_previous_errors_name_their_keys(write_config):
    raw = {"db_update_interval": "often", "redcap2wl": {}, "operation_interval": {"start_time": [8, 75]},
           "data_sources": [{"name": "x"}]}
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(raw))
    assert sorted(caught.value.problems) == sorted([
        "db_update_interval: Input should be a valid number, unable to parse string as a number",
        "operation_interval.start_time: must be [hour, minute] with hour 0-23 and minute 0-59",
        "data_sources.0.type: required",
    ])


def test_unknown_keys_were_ignored_there_and_are_named_here(write_config, caplog):
    with caplog.at_level(logging.WARNING):
        load_config(write_config({"db_path": "w.db", "sitee": "1"}))
    assert "sitee: unknown to the previous Pylantir too; ignored" in deprecation(caplog)


@pytest.mark.parametrize(("pattern", "group", "value", "expected"), [
    ("^([A-Z0-9]+)_.*", 1, "SUB1_Jane", "SUB1"),
    ("([A-Z]+)_(.+)", 2, "SUB_Jane", "Jane"),
    ("[a-z]+(\\d+)", 0, "ab12x", "ab12"),
    ("(?P<code>[ab]+)-(\\d+)", 2, "ab-12", "12"),
    ("[]()]+(x)", 1, "]()x", "x"),
    ("b(c)", 1, "abc", None),  # re.match is anchored: no match where search would find one
])
def test_an_extract_becomes_one_group_anchored_as_re_match(pattern, group, value, expected):
    converted = single_group_pattern(pattern, group)
    assert re.compile(converted).groups == 1
    match = re.search(converted, value)
    assert (match[1] if match else None) == expected
    previous = re.match(pattern, value)
    assert (previous.group(group) if previous else None) == expected


@pytest.mark.parametrize(("pattern", "group", "reason"), [
    ("(a)(b)\\1", 2, "refers back"), ("(a", 1, "not a valid regular expression"), ("(a)", 2, "has 1 group"),
])
def test_an_extract_without_equivalent_says_why(pattern, group, reason):
    with pytest.raises(PreviousMappingError, match=reason):
        single_group_pattern(pattern, group)


def test_an_unconvertible_entry_is_left_out_and_named(write_config, caplog):
    raw = previous_file(a={"name": "a", "type": "csv", "field_mapping": {
        "patient_id": {"source_field": "t", "_extract": {"pattern": "(a)(b)\\1", "group": 2}}, "x": "patient_name"}})
    with caplog.at_level(logging.WARNING):
        [source] = load_config(write_config(raw)).data_sources
    assert source.field_mapping == {"x": "patient_name"}
    assert "data source 'a': field_mapping.patient_id left out: '_extract.pattern' refers back" in deprecation(caplog)


def test_the_previous_api_keys_configure_the_http_service(write_config, caplog):
    """``api.cors_allowed_origins`` becomes ``http.cors_allowed_origins``; ``users_db_path`` and the other
    CORS keys are named in the warning (users are added with ``pylantir users add``)."""
    raw = {**previous_file(), "users_db_path": "~/users.db",
           "api": {"cors_allowed_origins": ["https://dash.example.org"], "cors_allow_credentials": True}}
    with caplog.at_level(logging.WARNING):
        config = load_config(write_config(raw))
    assert config.http.cors_allowed_origins == ["https://dash.example.org"]
    assert config.http.enabled and config.http.port == 8000
    message = deprecation(caplog)
    assert "users_db_path: users now live in the worklist database; add them with 'pylantir users add'" in message
    assert "api: cors_allow_credentials are not settings any more" in message
