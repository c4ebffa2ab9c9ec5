"""A person's side of the write-back outbox, on real SQLite and PostgreSQL databases: ``pylantir write-back
list`` and ``retry`` (failed changes back to pending, never an entry's older state after a newer one), the
delivery pass writing only an entry's newest pending change, and housekeeping's pruning of delivered changes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import select

from pylantir.config import PylantirConfig
from pylantir.housekeeping import Pruner
from pylantir.store import AuditEvent, Database, WriteBackChange
from pylantir.writeback import outbox
from pylantir.writeback.admin import RetryError, retry_failed

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def change(number: int, identity: str, state: str, status: str = "COMPLETED", *, source: str = "study",
           ended_days: float | None = None, error: str | None = None) -> WriteBackChange:
    """An outbox row as the MPPS handlers and the worker leave it."""
    recorded = NOW - timedelta(days=40, minutes=-number)
    finished = None if state == "pending" else NOW - timedelta(days=ended_days if ended_days is not None else 1)
    return WriteBackChange(
        id=number, source_name=source, identity=identity, mpps_uid=f"1.2.3.{number}",
        change={"key": {"record": number}, "location": f"record {number}", "status": status,
                "performed_status": status, "started_at": None, "ended_at": None, "attributes": {}},
        state=state, attempts=3 if state in ("failed", "done") else 0, recorded_at=recorded, next_attempt_at=recorded,
        finished_at=finished, last_error=error,
    )


@pytest.fixture
def outbox_rows(database: Database) -> Database:
    """Entries in every situation a retry meets."""
    with database.session() as session:
        session.add_all([
            # A: STARTED and COMPLETED both failed (the token had no import rights)
            change(1, "acc:A", "failed", "STARTED", error="no import rights"),
            change(2, "acc:A", "failed", error="no import rights"),
            # B: failed, then a newer change delivered
            change(3, "acc:B", "failed", "STARTED", error="no import rights"),
            change(4, "acc:B", "done"),
            # C: failed alone
            change(5, "acc:C", "failed", error="no import rights"),
            # D: failed, a newer change pending
            change(6, "acc:D", "failed", "STARTED", error="no import rights"),
            change(7, "acc:D", "pending"),
            # another source's failure
            change(8, "acc:E", "failed", source="other", error="down"),
        ])
    return database


def states(database: Database) -> dict[int, str]:
    with database.session() as session:
        return {row.id: row.state for row in session.scalars(select(WriteBackChange))}


def test_retrying_every_failed_change_keeps_each_entry_newest_state_last(outbox_rows: Database) -> None:
    with outbox_rows.session() as session:
        report = retry_failed(session, "study", None, NOW)
    assert report.retried == [2, 5]
    assert report.superseded == {1: 2, 3: 4, 6: 7}
    assert states(outbox_rows) == {1: "superseded", 2: "pending", 3: "superseded", 4: "done", 5: "pending",
                                   6: "superseded", 7: "pending", 8: "failed"}
    with outbox_rows.session() as session:
        retried = session.get(WriteBackChange, 2)
        assert retried is not None
        assert retried.attempts == 0 and retried.finished_at is None
        assert outbox.attempts_since(retried) == NOW, "giving up counts from the retry"
        assert outbox.step_change(retried).recorded_at == retried.recorded_at
        due = outbox.due_changes(session, "study", NOW, 100)
        assert [(row.id, row.change["status"]) for row in due] == [(2, "COMPLETED"), (5, "COMPLETED"),
                                                                  (7, "COMPLETED")]


def test_retrying_named_changes_checks_every_name_first(outbox_rows: Database) -> None:
    with outbox_rows.session() as session, pytest.raises(RetryError) as raised:
        retry_failed(session, "study", [5, 4, 8, 99], NOW)
    assert str(raised.value) == ("change 4 is done, not failed; change 8 is of source 'other', not 'study'; "
                                 "there is no change 99")
    assert states(outbox_rows)[5] == "failed", "nothing changed"
    with outbox_rows.session() as session:
        report = retry_failed(session, "study", [1, 5], NOW)
    assert (report.retried, report.superseded) == ([5], {1: 2})
    assert states(outbox_rows)[2] == "failed", "a change not named stays failed"


def test_a_pass_writes_only_the_newest_of_an_entry_pending_twice(database: Database) -> None:
    """A retry racing a new change's recording can leave two pending: only the newest is handed over."""
    with database.session() as session:
        session.add_all([change(1, "acc:A", "pending", "STARTED"), change(2, "acc:B", "pending"),
                         change(3, "acc:A", "pending")])
    with database.session() as session:
        due = outbox.newest_of_each_entry(session, outbox.due_changes(session, "study", NOW, 100), NOW)
    assert [row.id for row in due] == [2, 3]
    assert states(database) == {1: "superseded", 2: "pending", 3: "pending"}


def test_housekeeping_prunes_delivered_changes_and_keeps_failed_and_pending(database: Database) -> None:
    with database.session() as session:
        session.add_all([
            change(1, "acc:A", "done", ended_days=31), change(2, "acc:A", "superseded", ended_days=31),
            change(3, "acc:B", "done", ended_days=29), change(4, "acc:C", "failed", ended_days=400),
            change(5, "acc:D", "pending"),
        ])
    pruner = Pruner(database, PylantirConfig())
    assert pruner.run(NOW, dry_run=True).write_back_changes == 2 and len(states(database)) == 5
    assert pruner.run(NOW).write_back_changes == 2
    assert states(database) == {3: "done", 4: "failed", 5: "pending"}
    assert Pruner(database, PylantirConfig.model_validate(
        {"housekeeping": {"write_back_days": None}})).run(NOW + timedelta(days=999)).write_back_changes == 0
    assert Pruner(database, PylantirConfig.model_validate(
        {"housekeeping": {"write_back_days": 0}})).run(NOW).write_back_changes == 1
    assert states(database) == {4: "failed", 5: "pending"}


def _site(config_for: Callable[..., Path], database: Database, write_back: bool = True) -> Path:
    source: dict[str, Any] = {"name": "study", "type": "csv", "config": {"file": "x.csv"}}
    if write_back:
        source["write_back"] = {"config": {}}
    return config_for(database.url.render_as_string(hide_password=False),
                      data_sources=[source, {"name": "other", "type": "csv", "config": {"file": "y.csv"}}])


def test_the_commands_list_and_retry(outbox_rows: Database, config_for: Callable[..., Path],
                                     run: Callable[..., Result]) -> None:
    config = str(_site(config_for, outbox_rows))
    listed = run("write-back", "list", "study", "--config", config, "--json")
    assert listed.exit_code == 0, listed.output
    shown = json.loads(listed.output)
    assert [(c["change"], c["entry"], c["status"], c["state"]) for c in shown] == [
        (7, "acc:D", "COMPLETED", "pending"), (6, "acc:D", "STARTED", "failed"), (5, "acc:C", "COMPLETED", "failed"),
        (3, "acc:B", "STARTED", "failed"), (2, "acc:A", "COMPLETED", "failed"), (1, "acc:A", "STARTED", "failed")]
    assert shown[1]["last_error"] == "no import rights" and shown[1]["attempts"] == 3
    table = run("write-back", "list", "study", "--config", config, "--state", "done")
    assert table.exit_code == 0, table.output
    assert table.output.splitlines()[0].split()[:3] == ["change", "recorded", "entry"]
    assert table.output.splitlines()[1].split()[0] == "4"

    assert run("write-back", "retry", "study", "--config", config).exit_code == 2
    refused = run("write-back", "retry", "study", "--config", config, "--change", "4")
    assert refused.exit_code == 1 and "nothing retried: change 4 is done, not failed" in refused.output
    done = run("write-back", "retry", "study", "--config", config, "--all-failed")
    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == [
        "change 1: superseded by change 2 of the same entry (not retried)",
        "change 3: superseded by change 4 of the same entry (not retried)",
        "change 6: superseded by change 7 of the same entry (not retried)",
        "2 change(s) of source 'study' back to pending: 2, 5",
    ]
    with outbox_rows.session() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "write_back.retry")).one()
        assert event.target == "source:study" and event.actor.startswith("cli:")
        assert event.changes == {"retried": [None, [2, 5]], "superseded": [None, [1, 3, 6]]}
    again = run("write-back", "retry", "study", "--config", config, "--all-failed")
    assert again.output.strip() == "0 change(s) of source 'study' back to pending"


def test_the_commands_name_what_is_wrong(outbox_rows: Database, config_for: Callable[..., Path],
                                         run: Callable[..., Result]) -> None:
    config = str(_site(config_for, outbox_rows, write_back=False))
    unknown = run("write-back", "list", "nowhere", "--config", config)
    assert unknown.exit_code == 2 and "has no data source named 'nowhere' (configured: study, other)" in unknown.output
    off = run("write-back", "retry", "study", "--config", config, "--all-failed")
    assert off.exit_code == 2 and "source 'study' does not write back" in off.output
    assert states(outbox_rows)[5] == "failed"
