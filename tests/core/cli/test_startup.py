"""Start-up (issue 17): a command imports only what it uses.

The commands that touch no database and no network (``--help``, ``sources list``, ``config check``,
``worklist fields``...) must not import SQLAlchemy, Alembic, pydicom, pynetdicom, the HTTP stack or a
plugin's client library; ``sync`` on an up-to-date database must not import Alembic (nor the DICOM stack), and
before its first fetch neither prometheus-client, SQLAlchemy's PostgreSQL dialect (on SQLite), tenacity (which
retries a failed fetch) nor the terminal progress display (when not on a terminal: rich at all). The commands that
read no configuration (``sources list``, ``config example``...) do not import pydantic either: plugins import
their configuration models when they validate or fetch.
Each command runs in a fresh interpreter that lists, when it exits, which of those modules it loaded: a
behaviour test (what is imported), not a timing test. ``pylantir --help`` lists the commands from the
top-level registry without importing them; the registry's summaries must be the commands' own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from pylantir.cli.main import COMMANDS, cli

#: Libraries a light command must not import (``redcap``: PyCap; ``requests``: its HTTP client).
HEAVY = ("sqlalchemy", "alembic", "pydicom", "pynetdicom", "fastapi", "uvicorn", "jinja2", "redcap", "requests")
#: What a command that reads no configuration does not import either, beside :data:`HEAVY`.
NO_CONFIGURATION = ("pydantic",)
MARK = "pylantir-probe loaded:"
PROBE = """
import atexit, json, sys
atexit.register(lambda: print({mark!r}, json.dumps(sorted(name for name in {watched!r} if name in sys.modules)),
                              file=sys.stderr))
from pylantir.cli.main import main
sys.argv = ["pylantir", *sys.argv[1:]]
main()
"""
#: What ``pylantir sync`` of a SQLite site has not imported yet when its first fetch starts, beside :data:`HEAVY`
#: (the metrics count the sync once it ends; the PostgreSQL dialect; rich: the progress display of a terminal, and
#: the summary table at the end; tenacity: the retries of a failed fetch).
NOT_BEFORE_FETCH = ("prometheus_client", "sqlalchemy.dialects.postgresql", "rich", "tenacity")
FETCH_MARK = "pylantir-probe fetch:"
PROBE_PLUGIN = f'''"""A source type whose fetch yields nothing (and lists what is loaded when it starts)."""

import json
import sys

import pylantir


@pylantir.hookimpl
def source_types():
    return [pylantir.SourceType("probe", "yields nothing")]


@pylantir.hookimpl
def validate_config(config):
    return []


@pylantir.hookimpl
def fetch_entries(config):
    print({FETCH_MARK!r}, json.dumps(sorted(name for name in {HEAVY + NOT_BEFORE_FETCH!r} if name in sys.modules)),
          file=sys.stderr)
    return []
'''


def loaded_by(*args: str, cwd: Path | None = None, mark: str = MARK, also: tuple[str, ...] = ()) -> list[str]:
    """The :data:`HEAVY` modules (and those of ``also``) ``pylantir ARGS`` imported (the command must succeed); with
    ``mark`` :data:`FETCH_MARK`, those of :data:`HEAVY` and :data:`NOT_BEFORE_FETCH` loaded when the probe's fetch
    began."""
    probe = PROBE.format(mark=MARK, watched=HEAVY + also)
    result = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=120,
                            cwd=cwd, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith(mark)]
    loaded: list[str] = json.loads(line[len(mark):])
    return loaded


def write_config(path: Path, sources: list[dict[str, object]], **settings: object) -> Path:
    path.write_text(json.dumps({"database_url": f"sqlite:///{path.with_suffix('.sqlite')}", "data_sources": sources,
                                **settings}), encoding="utf-8")
    return path


@pytest.mark.parametrize("args", [
    ["--version"], ["--help"], ["sources", "list"], ["sources", "list", "--json"], ["config", "example"],
    ["config", "example", "--commented"], ["worklist", "fields"], ["worklist", "fields", "--json"],
    ["sync", "--help"], ["run", "--help"], ["find", "--help"], ["db", "--help"],
])
def test_light_commands_import_no_database_dicom_or_http_library(args: list[str]) -> None:
    assert loaded_by(*args) == []


@pytest.mark.parametrize("args", [
    ["--version"], ["--help"], ["sources", "list"], ["sources", "list", "--json"], ["config", "example"],
    ["config", "example", "--commented"], ["worklist", "fields"], ["sync", "--help"], ["find", "--help"],
])
def test_commands_that_read_no_configuration_import_no_pydantic(args: list[str]) -> None:
    assert loaded_by(*args, also=NO_CONFIGURATION) == []


def test_config_check_imports_no_database_or_dicom_library(tmp_path: Path) -> None:
    config = write_config(tmp_path / "pylantir.json", [])
    assert loaded_by("config", "check", str(config)) == []


@pytest.mark.plugin("pylantir-csv", "pylantir-json")
def test_config_check_of_file_sources_imports_no_database_or_dicom_library(tmp_path: Path) -> None:
    mapping = {"id": "patient_id", "name": "patient_name", "date": "scheduled_start_date", "modality": "modality",
               "comment": "extra.PatientComments"}
    config = write_config(tmp_path / "pylantir.json", [
        {"name": "site_csv", "type": "csv", "config": {"file_path": "export.csv"}, "field_mapping": mapping},
        {"name": "site_json", "type": "json", "config": {"file_path": "export.json"}, "field_mapping": mapping},
    ])
    assert loaded_by("config", "check", str(config)) == []


def test_sync_does_not_import_alembic_or_the_dicom_stack(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "probe_source.py").write_text(PROBE_PLUGIN, encoding="utf-8")
    config = write_config(tmp_path / "pylantir.json", [{"name": "probe", "type": "probe"}],
                          plugins_dir=str(plugins))
    # a new database gets the newest schema without Alembic (store.schema); an up-to-date one is only read
    assert loaded_by("sync", "--config", str(config)) == ["sqlalchemy"]
    assert loaded_by("sync", "--config", str(config)) == ["sqlalchemy"]
    assert loaded_by("sync", "--config", str(config), mark=FETCH_MARK) == ["sqlalchemy"]


def test_the_help_lists_each_command_with_its_own_summary_without_importing_it() -> None:
    context = click.Context(cli)
    for name, entry in COMMANDS.items():
        command = cli.get_command(context, name)
        assert command is not None and command.name == name and not command.hidden
        stand_in = click.Command(name, help=entry.summary)
        for limit in range(10, 200):  # every terminal width gives the same short help
            assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit), (name, limit)
