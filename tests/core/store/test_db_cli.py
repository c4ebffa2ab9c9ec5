"""``pylantir db upgrade`` and ``pylantir db info``."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from pylantir.store import Database
from pylantir.store.schema import current_revision, head_revision, upgrade_schema


def test_info_on_a_missing_sqlite_file_does_not_create_it(tmp_path: Path, config_for, run):
    path = tmp_path / "worklist.sqlite"
    result = run("db", "info", "--config", str(config_for(f"sqlite:///{path}")))
    assert result.exit_code == 0, result.output
    assert "does not exist yet" in result.stdout
    assert not path.exists()


def test_upgrade_then_info_with_row_counts(database_url, config_for, run, make_item):
    config = str(config_for(database_url))
    old = create_engine(database_url)
    upgrade_schema(old, "0001")
    old.dispose()

    before = run("db", "info", "--config", config)
    assert before.exit_code == 0, before.output
    assert f"revision: 0001 (newest is {head_revision()}; run 'pylantir db upgrade')" in before.stdout

    upgraded = run("db", "upgrade", "--config", config)
    assert upgraded.exit_code == 0, upgraded.output
    assert f"schema at revision {head_revision()} (newest)" in upgraded.stdout

    database = Database(database_url)
    with database.session() as session:
        session.add_all([make_item(), make_item()])
    database.close()
    after = run("db", "info", "--config", config)
    assert after.exit_code == 0, after.output
    assert f"revision: {head_revision()} (newest)" in after.stdout
    counts = dict(line.split() for line in after.stdout.splitlines()[3:])
    assert counts == {
        "source_states": "0",
        "sync_runs": "0",
        "worklist_items": "2",
        "mpps_instances": "0",
        "rejected_rows": "0",
        "removed_entries": "0",
        "previous_imports": "0",
        "previous_entries": "0",
        "users": "0",
        "api_tokens": "0",
        "audit_events": "0",
        "service_secrets": "0",
        "write_back_changes": "0",
    }


def test_info_on_an_empty_database(database_url, config_for, run):
    engine = create_engine(database_url)
    engine.connect().close()  # an existing but empty database (creates the SQLite file)
    engine.dispose()
    result = run("db", "info", "--config", str(config_for(database_url)))
    assert result.exit_code == 0, result.output
    assert "revision: none (empty database; run 'pylantir db upgrade')" in result.stdout
    assert ["worklist_items", "-"] in [line.split() for line in result.stdout.splitlines()]


def test_info_hides_the_password(postgres_url, config_for, run):
    # the test server trusts local connections, so any password gets in, and must never be shown
    with_password = make_url(postgres_url).set(password="s3cret-pw").render_as_string(hide_password=False)
    result = run("db", "upgrade", "--config", str(config_for(with_password)))
    assert result.exit_code == 0, result.output
    result = run("db", "info", "--config", str(config_for(with_password)))
    assert result.exit_code == 0, result.output
    assert "s3cret-pw" not in result.output
    assert ":***@" in result.stdout
    assert current_revision(create_engine(postgres_url)) == head_revision()


def test_unreachable_database_is_a_clean_error(config_for, run):
    pytest.importorskip("psycopg2")
    url = "postgresql+psycopg2://pylantir:s3cret-pw@127.0.0.1:1/worklist"
    result = run("db", "upgrade", "--config", str(config_for(url)))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: database postgresql+psycopg2://pylantir:***@127.0.0.1:1/worklist: ")
    assert "s3cret-pw" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_invalid_database_url_is_a_clean_error(config_for, run):
    result = run("db", "info", "--config", str(config_for("nosuchdialect://x")))
    assert result.exit_code == 1
    assert "Error: cannot use database_url: Can't load plugin: sqlalchemy.dialects:nosuchdialect" in result.stderr
