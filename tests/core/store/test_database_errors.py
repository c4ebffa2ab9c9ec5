"""Database failures become one line at the CLI boundary, for every command; only run, sync and db upgrade
create or migrate a database."""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from pylantir.store.schema import current_revision, head_revision, upgrade_schema

#: Every command that opens the database, with the arguments it needs besides --config.
COMMANDS = [("db", "upgrade"), ("db", "info"), ("db", "prune"), ("worklist", "list"), ("sources", "status"),
            ("sync",), ("run", "--no-sync")]
#: The commands that only read (or prune) and must neither create nor migrate.
READ_ONLY = [("db", "prune"), ("worklist", "list"), ("sources", "status")]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once the probe is closed


def write_config(tmp_path: Path, database_url: str) -> Path:
    config = tmp_path / "pylantir.json"
    config.write_text(json.dumps({"database_url": database_url}))
    return config


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_an_unreachable_postgresql_is_one_line_from_every_command(tmp_path, pylantir_cli, command):
    pytest.importorskip("psycopg2")
    port = closed_port()
    config = write_config(tmp_path, f"postgresql+psycopg2://pylantir:s3cret-pw@127.0.0.1:{port}/worklist")
    result = pylantir_cli(*command, "--config", config)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"Error: database postgresql+psycopg2://pylantir:***@127.0.0.1:{port}/worklist: ")
    assert "Connection refused" in line and "check database_url (or PYLANTIR_DATABASE_URL)" in line
    assert "s3cret-pw" not in result.stdout + result.stderr


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_read_only_commands_never_create_a_database(tmp_path, pylantir_cli, command):
    path = tmp_path / "data" / "worklist.sqlite"
    result = pylantir_cli(*command, "--config", write_config(tmp_path, f"sqlite:///{path}"), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Error: database sqlite:///{path}: the file {path} does not exist; 'pylantir db upgrade' "
        "(or 'pylantir sync', 'pylantir run') creates it"]
    assert not path.exists() and not path.parent.exists()


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_read_only_commands_never_migrate_a_schema_behind(tmp_path, pylantir_cli, command):
    path = tmp_path / "worklist.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    upgrade_schema(engine, "0006")
    result = pylantir_cli(*command, "--config", write_config(tmp_path, f"sqlite:///{path}"))
    assert result.returncode == 1
    assert f"schema 0006 (newest is {head_revision()}; run 'pylantir db upgrade')" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert current_revision(engine) == "0006"
    engine.dispose()


def test_a_schema_written_by_a_newer_pylantir_is_one_line(tmp_path, pylantir_cli):
    path = tmp_path / "worklist.sqlite"
    config = write_config(tmp_path, f"sqlite:///{path}")
    assert pylantir_cli("db", "upgrade", "--config", config).returncode == 0
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    for command in (("worklist", "list"), ("sync",)):
        result = pylantir_cli(*command, "--config", config)
        assert result.returncode == 1
        [line] = result.stderr.splitlines()
        assert "schema revision 9999, which this Pylantir does not know" in line and "upgrade Pylantir" in line


def test_a_file_that_is_no_database_is_one_line_naming_the_next_action(tmp_path, pylantir_cli):
    path = tmp_path / "worklist.sqlite"
    path.write_bytes(b"not a database, but sixteen bytes and more" * 100)
    result = pylantir_cli("sources", "status", "--config", write_config(tmp_path, f"sqlite:///{path}"))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Error: database sqlite:///{path}: file is not a database; the file is not a SQLite database: "
        "check database_url"]
