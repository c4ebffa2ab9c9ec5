"""pylantir.testing: registries for one plugin, the I/O audit and the validation half of the contract check."""

from __future__ import annotations

import os
import socket
import threading

import pytest

from pylantir.plugins import PluginStatus
from pylantir.testing import (
    check_source_contract,
    fresh_registry,
    load_distribution,
    no_io,
    query_worklist,
    registered,
    sync_to_sqlite,
)

PLUGIN = """
from pylantir import ConfigProblem, SourceError, SourceType, hookimpl

@hookimpl
def source_types():
    return [SourceType("kit", {summary!r})]

@hookimpl
def validate_config(config):
    {validate}

@hookimpl
def fetch_entries(config):
    {fetch}
"""
IF_BAD = "if config.get('path') == 3 else []"
CHECKS_PATH = "return [ConfigProblem('path', 'must be a string')] if not isinstance(config.get('path'), str) else []"


@pytest.fixture
def plugin(make_module):
    """Build a ``kit`` plugin module from its hook bodies."""

    def build(validate: str = CHECKS_PATH, fetch: str = "return []", summary: str = "kit test source"):
        return make_module("kit_plugin", PLUGIN.format(validate=validate, fetch=fetch, summary=summary))

    return build


def test_fresh_registry_has_no_installed_plugins():
    registry = fresh_registry()
    assert registry.plugins == [] and registry.source_types() == {}


def test_registered_holds_the_module_only_inside_the_block(plugin):
    module = plugin()
    with registered(module) as (registry, info):
        assert info.status is PluginStatus.OK
        assert registry.owner("kit") is info and list(registry.source_types()) == ["kit"]
    assert registry.plugins == [] and registry.source_types() == {}


def test_registered_fails_with_the_reason_for_a_hook_name_typo(make_module):
    module = make_module("typo_plugin", """
        from pylantir import SourceType, hookimpl

        @hookimpl
        def source_types():
            return [SourceType("typo", "typo")]

        @hookimpl
        def validate_confg(config):
            return []
    """)
    with pytest.raises(AssertionError, match="did you mean 'validate_config'"):
        with registered(module):
            pass


def test_load_distribution_goes_through_the_real_entry_point():
    registry, info = load_distribution("pylantir-csv")
    assert info.distribution == "pylantir-csv" and info.origin.startswith("entry point")
    assert [p.name for p in registry.plugins] == ["pylantir-csv"]
    with pytest.raises(AssertionError, match="no installed entry point named 'pylantir-nope'"):
        load_distribution("pylantir-nope")


def test_no_io_catches_files_and_sockets_but_not_metadata(tmp_path):
    target = tmp_path / "data.csv"
    target.write_text("x")
    with pytest.raises(AssertionError, match=r"reading did I/O.*open .*data\.csv"):
        with no_io("reading"):
            target.read_text()
    with pytest.raises(AssertionError, match="socket"):
        with no_io("connecting"):
            socket.create_connection(("127.0.0.1", 9), timeout=0.1)
    with no_io("checking that a configured file exists"):  # metadata, allowed for "does not exist yet" warnings
        assert target.exists() and os.listdir(tmp_path) == ["data.csv"]


def test_no_io_ignores_imports_other_threads_and_pure_code(make_module, tmp_path):
    make_module("already_there", "VALUE = 1\n")
    (tmp_path / "modules" / "imported_late.py").write_text("VALUE = 2\n")
    worker = threading.Thread(target=lambda: (tmp_path / "other-thread").write_text("x"))
    with no_io("pure code"):
        import imported_late  # noqa: F401 - importing reads files; that is not the plugin's I/O

        worker.start()
        worker.join()
        sorted({"b": 1, "a": 2}.items())


def test_no_io_still_watches_a_block_after_another_block_ends(tmp_path):
    """The hook stays on while any block is open: nested blocks, and a block of another thread ending first."""
    target = tmp_path / "data.csv"
    target.write_text("x")
    inside, leave = threading.Event(), threading.Event()

    def other_block():
        with no_io("the other thread"):
            inside.set()
            leave.wait(10)

    with pytest.raises(AssertionError, match=r"outer did I/O.*open .*data\.csv"):
        with no_io("outer"):
            with no_io("inner"):
                pass
            other = threading.Thread(target=other_block)
            other.start()
            inside.wait(10)
            leave.set()
            other.join()
            target.read_text()


def test_contract_passes_for_a_plugin_that_keeps_it(plugin):
    with registered(plugin(fetch="raise SourceError('cannot reach it')")) as (registry, _):
        check_source_contract(
            registry, "kit", good_config={"path": "x"}, bad_configs={"path": {"path": 3}}, failing_config={}
        )


@pytest.mark.parametrize(
    ("hooks", "arguments", "message"),
    [
        ({"validate": "open(__file__).close(); return []"}, {}, "validate_config.* did I/O.*open"),
        ({}, {"good_config": {"path": 3}}, "rejects the good config"),
        ({"validate": f"return [ConfigProblem('', 'wrong')] {IF_BAD}"}, {}, "gives no error at path 'path'"),
        ({"validate": f"return [ConfigProblem('path', 'odd', 'warning')] {IF_BAD}"}, {}, "no error at path 'path'"),
        ({"fetch": "raise KeyError('path')"}, {"failing_config": {}}, "raised KeyError.*must raise pylantir.Source"),
        ({"fetch": "yield from ()"}, {"failing_config": {}}, "succeeded; it was expected to raise"),
        ({"summary": " "}, {}, "empty summary"),
    ],
)
def test_contract_failures_say_what_is_wrong(plugin, hooks, arguments, message):
    arguments = {"good_config": {"path": "x"}, "bad_configs": {"path": {"path": 3}}, **arguments}
    with registered(plugin(**hooks)) as (registry, _):
        with pytest.raises(AssertionError, match=message):
            check_source_contract(registry, "kit", **arguments)


@pytest.fixture
def sample(make_module, sample_plugin_dir):
    """The ``sample`` plugin (see conftest) as an imported module."""
    return make_module("sample_module", (sample_plugin_dir / "sample_source.py").read_text())


def test_contract_maps_fetched_records_through_the_field_mapping(sample, sample_mapping):
    with registered(sample) as (registry, _):
        entries = check_source_contract(
            registry, "sample", good_config={"count": 2}, field_mapping=sample_mapping,
            failing_config={"fail": "export missing"},
        )
    assert [(e["patient_id"], e["patient_name"], e["modality"]) for e in entries] == [
        ("S1", "Doe^Pat1", "MR"), ("S2", "Doe^Pat2", "MR"),
    ]


def test_contract_lists_every_item_that_is_no_valid_entry(sample, sample_mapping):
    with registered(sample) as (registry, _):
        with pytest.raises(AssertionError) as excinfo:
            check_source_contract(registry, "sample", good_config={"bad_rows": True}, field_mapping=sample_mapping)
        message = str(excinfo.value)
        assert "record 3: field scheduled_start_date" in message and "row 10: unreadable row" in message
        with pytest.raises(AssertionError, match="yielded nothing"):
            check_source_contract(registry, "sample", good_config={"count": 0}, field_mapping=sample_mapping)


def test_sync_to_sqlite_then_query_worklist_over_cfind(sample, sample_mapping, tmp_path):
    source = {"name": "s", "type": "sample", "config": {"count": 3}, "field_mapping": sample_mapping}
    with registered(sample) as (registry, _):
        rows = sync_to_sqlite(registry, source, tmp_path / "w.sqlite")
        with pytest.raises(AssertionError, match="sync of source 'f' ended failed: .*export missing"):
            failing = {**source, "name": "f", "config": {"fail": "export missing"}}
            sync_to_sqlite(registry, failing, tmp_path / "w.sqlite")
    assert [row["patient_id"] for row in rows] == ["S1", "S2", "S3"]
    assert all(row["source_name"] == "s" and row["study_instance_uid"] for row in rows)
    found = query_worklist(tmp_path / "w.sqlite", {"PatientID": "S2"})
    assert [(ds.PatientID, str(ds.PatientName), ds.ScheduledProcedureStepSequence[0].Modality) for ds in found] == [
        ("S2", "Doe^Pat2", "MR")
    ]
    assert len(query_worklist(tmp_path / "w.sqlite")) == 3
