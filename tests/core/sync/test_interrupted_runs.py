"""A ``pylantir sync`` killed with SIGKILL mid-sync: its run is shown and then closed as interrupted."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from pylantir.cli.sources_status import source_statuses
from pylantir.config import load_config
from pylantir.store import Database, SyncRun, WorklistItem
from pylantir.sync.lineage import close_interrupted_runs

PYLANTIR = [sys.executable, "-c", "from pylantir.cli.main import main; main()"]
ROWS = 20_000
MAPPING = {"mrn": "patient_id", "name": "patient_name", "day": "scheduled_start_date", "modality": "modality",
           "accession": "accession_number"}


def _status(config: Path) -> dict[str, object]:
    done = subprocess.run([*PYLANTIR, "sources", "status", "--config", str(config), "--json"],
                          capture_output=True, text=True, timeout=60, check=True)
    (status,) = json.loads(done.stdout)
    return status


@pytest.mark.plugin("pylantir-csv")
def test_killed_sync_is_closed_as_interrupted_by_the_next_start(tmp_path: Path, sqlite_url: str) -> None:
    source = tmp_path / "ris.csv"
    with source.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(MAPPING)
        writer.writerows([f"M{n:06d}", f"Family{n}^Given", date.today().isoformat(), "MR", f"A{n:07d}"]
                        for n in range(ROWS))
    config = tmp_path / "pylantir.json"
    config.write_text(json.dumps({"database_url": sqlite_url, "data_sources": [
        {"name": "ris", "type": "csv", "config": {"file_path": str(source)}, "field_mapping": MAPPING}]}))
    database = Database.open(sqlite_url)
    process = subprocess.Popen([*PYLANTIR, "sync", "--config", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            with database.session() as session:
                running = session.scalars(select(SyncRun).where(SyncRun.outcome == "running")).first()
            if running is not None:
                break
            time.sleep(0.01)
        assert running is not None and process.poll() is None, "the sync did not start, or ended too soon"
        assert (running.pid, running.host) == (process.pid, os.uname().nodename)
        # a live process's run is never closed
        assert close_interrupted_runs(database) == 0
        assert source_statuses(load_config(config), database)[0]["outcome"] == "running"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    killed = _status(config)
    assert (killed["outcome"], killed["runner"]) == ("interrupted", f"pid {process.pid} on {os.uname().nodename}")
    with database.session() as session:
        assert session.scalars(select(WorklistItem.id).limit(1)).first() is None, "a killed sync committed rows"

    again = subprocess.run([*PYLANTIR, "sync", "--config", str(config)], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"sync run {running.id} was interrupted" in again.stderr
    with database.session() as session:
        first, second = session.scalars(select(SyncRun).order_by(SyncRun.id)).all()
    database.close()
    assert (first.outcome, first.finished_at) == ("interrupted", None)
    assert f"pid {process.pid}" in first.error
    assert (second.outcome, second.inserted) == ("success", ROWS)
    # the real end is stored: a sync of this size takes a measurable time
    assert (second.finished_at - second.started_at).total_seconds() > 0.05
    last = _status(config)
    assert last["outcome"] == "success" and last["seconds"] > 0.05
