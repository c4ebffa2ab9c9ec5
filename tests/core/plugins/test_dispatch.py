"""Hooks are called on the plugin that owns a source type, and only on it."""

from __future__ import annotations

import textwrap

import pytest

from pylantir import ConfigProblem, FetchState, SourceError
from pylantir.plugins import PluginBugError, PluginRegistry

RECORDING_PLUGIN = """
from pylantir import ConfigProblem, SourceError, SourceType, hookimpl

CALLS = []

@hookimpl
def source_types():
    CALLS.append(("source_types", None))
    return [SourceType({name!r}, "records its calls")]

@hookimpl
def validate_config(source_type, config):
    CALLS.append(("validate_config", source_type))
    return [ConfigProblem("path", "problem from {name}")] if config.get("bad") else []

@hookimpl
def fetch_entries(source_name, config, fields, state):
    CALLS.append(("fetch_entries", source_name))
    if config.get("fail") == "expected":
        raise SourceError("the export file is missing")
    if config.get("fail") == "bug":
        raise KeyError("oops")
    state.saved["seen"] = True
    yield {{"patient_id": "P1", "fields": sorted(fields)}}
"""


@pytest.fixture
def registry(make_dist):
    make_dist("pylantir-red", "red_plugin", textwrap.dedent(RECORDING_PLUGIN.format(name="red")))
    make_dist("pylantir-blue", "blue_plugin", textwrap.dedent(RECORDING_PLUGIN.format(name="blue")))
    registry = PluginRegistry()
    registry.load_entry_points(only="pylantir-red")
    registry.load_entry_points(only="pylantir-blue")
    return registry


def calls(registry, name):
    return registry.owner(name).module.CALLS


def hook_calls(registry, name):
    """The calls after loading (each plugin's source_types, called once at load, left out)."""
    made = calls(registry, name)
    assert made[0] == ("source_types", None)
    return made[1:]


def test_source_types_is_called_once_when_loaded_and_never_again(registry):
    assert registry.source_types().keys() == {"red", "blue"}
    registry.validate_config("red", {})
    list(registry.fetch_entries("red", "site_a", {}, frozenset(), FetchState()))
    assert calls(registry, "red") == [("source_types", None), ("validate_config", "red"), ("fetch_entries", "site_a")]
    assert calls(registry, "blue") == [("source_types", None)]


def test_validate_config_reaches_only_the_owner(registry):
    assert registry.validate_config("red", {"bad": True}) == [ConfigProblem("path", "problem from red")]
    assert hook_calls(registry, "red") == [("validate_config", "red")]
    assert hook_calls(registry, "blue") == []


def test_fetch_entries_reaches_only_the_owner_and_streams(registry):
    state = FetchState()
    entries = registry.fetch_entries("blue", "site_b", {}, frozenset({"pid"}), state)
    assert hook_calls(registry, "blue") == []  # a generator: nothing runs until consumed
    assert list(entries) == [{"patient_id": "P1", "fields": ["pid"]}]
    assert state.saved == {"seen": True}
    assert hook_calls(registry, "blue") == [("fetch_entries", "site_b")]
    assert hook_calls(registry, "red") == []


def test_expected_failure_passes_through_and_a_bug_is_labelled(registry):
    with pytest.raises(SourceError, match="export file is missing"):
        list(registry.fetch_entries("red", "a", {"fail": "expected"}, frozenset(), FetchState()))
    with pytest.raises(PluginBugError, match="pylantir-red 1.0, hook validate_config"):
        registry.validate_config("red", None)  # type: ignore[arg-type]


def test_plugin_without_fetch_entries_is_reported_at_use(make_dist, plugin):
    make_dist("pylantir-lazy", "lazy_plugin", plugin("lazy"))
    registry = PluginRegistry()
    registry.load_entry_points(only="pylantir-lazy")
    assert registry.validate_config("lazy", {}) == []
    with pytest.raises(PluginBugError, match="does not implement it"):
        registry.fetch_entries("lazy", "x", {}, frozenset(), FetchState())
