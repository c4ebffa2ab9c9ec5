"""Performed-step write-back inside a real ``pylantir run``: MPPS over real associations, a plugin loaded from
the plugin directory writing what it is handed to a file, the outbox in a real SQLite file."""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from pylantir.dicom.client import Peer
from pylantir.store import Database, WorklistItem, WriteBackChange

from .conftest import PYLANTIR, free_port, serving

PLUGIN = textwrap.dedent('''
    """Exams from a JSON file; performed steps appended to a JSON-lines file (``write_back.config.log``).

    While the file ``write_back.config.hold`` exists, the system is down (a transient failure); while
    ``write_back.config.refuse`` exists, it refuses every write (a permanent failure).
    """
    import json
    from pathlib import Path

    from pylantir import Record, SourceType, TransientSourceError, WriteBackResult, hookimpl


    @hookimpl
    def source_types():
        return [SourceType("steps", "exams from a JSON file, performed steps to a JSON-lines file")]


    @hookimpl
    def fetch_entries(config):
        for row in json.loads(Path(config["file"]).read_text()):
            yield Record(row, f"exam {row['id']}", key={"exam_id": row["id"]})


    @hookimpl
    def write_back(source_name, settings, changes):
        if Path(settings.get("hold", "/nonexistent")).exists():
            raise TransientSourceError(f"source {source_name}: the scheduler is down")
        if Path(settings.get("refuse", "/nonexistent")).exists():
            return [WriteBackResult.failed(change, "the token has no import rights") for change in changes]
        with open(settings["log"], "a") as out:
            for change in changes:
                out.write(json.dumps({
                    "source": source_name, "key": change.key, "location": change.location, "status": change.status,
                    "performed_status": change.performed_status,
                    "started": change.started_at.isoformat() if change.started_at else None,
                    "ended": change.ended_at.isoformat() if change.ended_at else None,
                    "station": change.attributes.get("PerformedStationAETitle"),
                    "station_name": change.attributes.get("PerformedStationName"),
                    "series": change.attributes.get("PerformedSeriesCount"),
                }) + "\\n")
        return [WriteBackResult.done(change) for change in changes]
''')
MAPPING = {"pid": "patient_id", "name": "patient_name", "date": "scheduled_start_date",
           "time": "scheduled_start_time", "modality": "modality", "acc": "accession_number"}


def _exam(number: int) -> dict[str, Any]:
    return {"id": number, "pid": f"P{number}", "name": "Doe^Jane", "date": date.today().isoformat(), "time": "09:30",
            "modality": "MR", "acc": f"ACC{number}"}


def _site(tmp_path: Path, port: int, hold: bool = False, refuse: bool = False) -> tuple[Path, Path, str]:
    """Plugin, exam files and config: source ``scheduler`` writes back, source ``plain`` (same type) does not."""
    plugins = tmp_path / "plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "steps.py").write_text(PLUGIN)
    (tmp_path / "scheduler.json").write_text(json.dumps([_exam(1)]))
    (tmp_path / "plain.json").write_text(json.dumps([_exam(2)]))
    log, hold_file = tmp_path / "written.jsonl", tmp_path / "down"
    if hold:
        hold_file.touch()
    if refuse:
        (tmp_path / "refused").touch()
    url = f"sqlite:///{tmp_path / 'site.sqlite'}"
    settings = {"log": str(log), "hold": str(hold_file), "refuse": str(tmp_path / "refused")}
    config = {
        "database_url": url, "server": {"port": port}, "plugins_dir": str(plugins),
        "housekeeping": {"enabled": False},
        "data_sources": [
            {"name": "scheduler", "type": "steps", "sync_interval": 3600, "field_mapping": MAPPING,
             "config": {"file": str(tmp_path / "scheduler.json")},
             "write_back": {"config": settings, "first_retry_seconds": 0.05, "max_retry_seconds": 0.2}},
            {"name": "plain", "type": "steps", "sync_interval": 3600, "field_mapping": MAPPING,
             "config": {"file": str(tmp_path / "plain.json")}},
        ],
    }
    path = tmp_path / "pylantir.json"
    path.write_text(json.dumps(config))
    return path, log, url


def _items(database: Database) -> dict[str, WorklistItem]:
    with database.session() as session:
        return {item.source_name: item for item in session.scalars(select(WorklistItem))}


def _written(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _outbox(database: Database) -> list[WriteBackChange]:
    with database.session() as session:
        return list(session.scalars(select(WriteBackChange).order_by(WriteBackChange.id)))


def test_write_back_of_n_create_and_n_set_reaches_the_source_and_only_it(
        tmp_path: Path, modality: Callable[..., Any], wait_until: Callable[..., None]) -> None:
    port = free_port()
    config, log, url = _site(tmp_path, port)
    database = Database.open(url)
    with serving(["run", "--no-http", "--config", str(config)], Peer("127.0.0.1", port)) as server:
        wait_until(lambda: len(_items(database)) == 2, what="the first syncs")
        items = _items(database)
        scanner = modality(port)
        for source in ("scheduler", "plain"):
            uid = scanner.start(items[source].study_instance_uid)
            scanner.end(uid)
        wait_until(lambda: any(w["status"] == "COMPLETED" for w in _written(log)), what="the write-back")
        wait_until(lambda: _outbox(database)[-1].state == "done", what="the delivery to be recorded")
    outbox = _outbox(database)
    database.close()
    assert server.returncode == 0, server.stderr
    written = _written(log)
    assert {w["source"] for w in written} == {"scheduler"}
    assert [w["status"] for w in written] in (["STARTED", "COMPLETED"], ["COMPLETED"])
    final = written[-1]
    assert final == {
        "source": "scheduler", "key": {"exam_id": 1}, "location": "exam 1", "status": "COMPLETED",
        "performed_status": "COMPLETED", "started": "2026-01-05T10:15:00", "ended": "2026-01-05T10:45:00",
        "station": "MR1", "station_name": None, "series": "1",
    }
    assert {row.source_name for row in outbox} == {"scheduler"}, "a source without write_back records nothing"
    assert outbox[-1].state == "done"
    assert "write-back to source 'scheduler': 1 change(s) written" in server.stderr
    assert "Doe" not in server.stderr and "P1" not in server.stderr.split()


def test_write_back_survives_kill_9_between_the_mpps_write_and_the_delivery(
        tmp_path: Path, modality: Callable[..., Any], wait_until: Callable[..., None]) -> None:
    """The scheduler is down when the exam ends; the process is killed; the next run delivers the final state."""
    port = free_port()
    config, log, url = _site(tmp_path, port, hold=True)
    database = Database.open(url)
    with serving(["run", "--no-http", "--config", str(config)], Peer("127.0.0.1", port)) as first:
        wait_until(lambda: len(_items(database)) == 2, what="the first syncs")
        item = _items(database)["scheduler"]
        scanner = modality(port)
        uid = scanner.start(item.study_instance_uid)
        scanner.end(uid)
        wait_until(lambda: any(row.attempts >= 2 and row.state == "pending" for row in _outbox(database)),
                   what="failed attempts")
        first.process.kill()
        first.process.wait(10)
    assert first.returncode == -9
    assert _written(log) == []
    pending = [row for row in _outbox(database) if row.state == "pending"]
    assert [row.change["status"] for row in pending] == ["COMPLETED"]
    (tmp_path / "down").unlink()
    with serving(["run", "--no-http", "--config", str(config)], Peer("127.0.0.1", port)):
        wait_until(lambda: _written(log), what="the delivery after the restart")
        wait_until(lambda: _outbox(database)[-1].state == "done", what="the delivery to be recorded")
    database.close()
    assert [(w["key"], w["status"]) for w in _written(log)] == [({"exam_id": 1}, "COMPLETED")]


def test_failed_changes_retried_by_a_person_are_delivered_newest_state_only(
        tmp_path: Path, modality: Callable[..., Any], wait_until: Callable[..., None]) -> None:
    """The scheduler refuses every write (no import rights) while the exam starts and ends: both changes fail
    for good; ``write-back list`` shows them; once fixed, ``write-back retry --all-failed`` writes the final
    state, once, and never the older STARTED after it."""
    port = free_port()
    config, log, url = _site(tmp_path, port, refuse=True)
    database = Database.open(url)

    def command(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*PYLANTIR, "write-back", *args, "scheduler", "--config", str(config)],
                              capture_output=True, text=True, timeout=60, check=False)

    with serving(["run", "--no-http", "--config", str(config)], Peer("127.0.0.1", port)) as server:
        wait_until(lambda: len(_items(database)) == 2, what="the first syncs")
        scanner = modality(port)
        uid = scanner.start(_items(database)["scheduler"].study_instance_uid)
        wait_until(lambda: [row.state for row in _outbox(database)] == ["failed"], what="STARTED to fail")
        scanner.end(uid)
        wait_until(lambda: [row.state for row in _outbox(database)] == ["failed", "failed"], what="COMPLETED to fail")
        listed = command("list", "--json")
        assert listed.returncode == 0, listed.stderr
        failed = json.loads(listed.stdout)
        assert [(c["status"], c["state"], c["attempts"], c["last_error"], c["location"]) for c in failed] == [
            ("COMPLETED", "failed", 1, "the token has no import rights", "exam 1"),
            ("STARTED", "failed", 1, "the token has no import rights", "exam 1")]
        assert "Doe" not in listed.stdout and '"P1"' not in listed.stdout
        (tmp_path / "refused").unlink()
        retried = command("retry", "--all-failed")
        assert retried.returncode == 0, retried.stderr
        older, newer = failed[1]["change"], failed[0]["change"]
        assert retried.stdout.splitlines() == [
            f"change {older}: superseded by change {newer} of the same entry (not retried)",
            f"1 change(s) of source 'scheduler' back to pending: {newer}"]
        wait_until(lambda: _outbox(database)[-1].state == "done", what="the retried change to be delivered")
    states = [row.state for row in _outbox(database)]
    database.close()
    assert server.returncode == 0, server.stderr
    assert [(w["key"], w["status"]) for w in _written(log)] == [({"exam_id": 1}, "COMPLETED")]
    assert states == ["superseded", "done"]
