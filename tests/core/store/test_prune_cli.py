"""``pylantir db prune`` as cron runs it: the console script as a process, a real SQLite file, the real clock."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, select

from pylantir.store import Database, WorklistItem
from pylantir.store.schema import head_revision, upgrade_schema

PYLANTIR = str(Path(sys.executable).with_name("pylantir"))


def _prune(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYLANTIR, "db", "prune", "--config", str(config), *args], capture_output=True, text=True,
                          timeout=60, check=False)


def _site(tmp_path: Path) -> tuple[Path, str]:
    url = f"sqlite:///{tmp_path / 'site.sqlite'}"
    config = tmp_path / "pylantir.json"
    config.write_text(json.dumps({"database_url": url}), encoding="utf-8")
    return config, url


def test_dry_run_counts_and_prune_removes(tmp_path: Path, make_item) -> None:
    """--dry-run prints what would go and removes nothing; then the same counts are removed."""
    config, url = _site(tmp_path)
    old = datetime.now(UTC) - timedelta(days=45)
    database = Database.open(url)
    with database.session() as session:
        session.add_all([
            make_item(patient_id="DONE", scheduled_procedure_step_status="COMPLETED", updated_at=old),
            make_item(patient_id="NO-SHOW", scheduled_start_date=f"{old:%Y%m%d}", scheduled_start_time="090000",
                      scheduled_start=f"{old:%Y%m%d}090000"),
            make_item(patient_id="TODAY", scheduled_start_date=f"{datetime.now(UTC):%Y%m%d}",
                      scheduled_start=f"{datetime.now(UTC):%Y%m%d}093000"),
        ])

    dry = _prune(config, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    lines = [line.split() for line in dry.stdout.splitlines()]
    assert lines[0] == ["would", "remove", "rows"]
    assert ["finished", "items", "1"] in lines and ["expired", "items", "1"] in lines
    with database.session() as session:
        assert len(session.scalars(select(WorklistItem)).all()) == 3

    done = _prune(config)
    assert done.returncode == 0, done.stderr
    lines = [line.split() for line in done.stdout.splitlines()]
    assert lines[0] == ["removed", "rows"] and ["finished", "items", "1"] in lines
    with database.session() as session:
        assert [item.patient_id for item in session.scalars(select(WorklistItem))] == ["TODAY"]
    database.close()


def test_a_schema_behind_says_to_upgrade(tmp_path: Path) -> None:
    """A database at an older revision is not pruned (nor migrated): the command names db upgrade."""
    config, url = _site(tmp_path)
    engine = create_engine(url)
    upgrade_schema(engine, "0006")
    engine.dispose()
    result = _prune(config)
    assert result.returncode == 1
    assert f"schema 0006 (newest is {head_revision()}; run 'pylantir db upgrade')" in result.stderr
    assert "Traceback" not in result.stderr
