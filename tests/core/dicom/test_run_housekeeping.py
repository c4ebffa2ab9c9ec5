"""``pylantir run`` prunes on its own schedule and logs counts only."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from pylantir.dicom.client import Peer
from pylantir.store import Database, WorklistItem

from .conftest import free_port, serving


def test_run_removes_a_finished_exam_on_schedule_without_logging_it(tmp_path: Path) -> None:
    """A COMPLETED exam last changed 40 days ago goes within a few of run's passes (every 0.6 s here); the
    log says how many, never who."""
    url = f"sqlite:///{tmp_path / 'site.sqlite'}"
    database = Database.open(url)
    with database.session() as session:
        day = f"{datetime.now(UTC) - timedelta(days=40):%Y%m%d}"
        session.add(WorklistItem(
            identity="acc:ACC-55012", source_name="ris", content_hash="x", patient_id="MRN-784512",
            patient_name="Quixote^Zebulon", study_instance_uid="1.2.826.0.1.3680043.10.999.61", modality="MR",
            accession_number="ACC-55012", scheduled_start_date=day, scheduled_start=day + "083000",
            scheduled_procedure_step_status="COMPLETED", updated_at=datetime.now(UTC) - timedelta(days=40)))
    port = free_port()
    config = tmp_path / "pylantir.json"
    config.write_text(json.dumps({"database_url": url, "server": {"port": port},
                                  "housekeeping": {"interval_minutes": 0.01}}))
    with serving(["run", "--no-sync", "--no-http", "--config", str(config)], Peer("127.0.0.1", port)) as server:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with database.session() as session:
                if session.scalar(select(WorklistItem.id)) is None:
                    break
            time.sleep(0.2)
    database.close()
    assert server.returncode == 0
    assert "housekeeping: a pass every 0.01 minutes" in server.stderr
    assert "housekeeping removed 1 finished items, 0 expired items, 0 MPPS instances" in server.stderr
    for value in ("Quixote", "Zebulon", "MRN-784512", "ACC-55012"):
        assert value not in server.stderr
