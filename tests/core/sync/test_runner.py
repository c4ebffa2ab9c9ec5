"""One sync of one source against real SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, select, text, update

from pylantir import Record, Rejected, SourceError, TransientSourceError
from pylantir.store import Database, RejectedRow, SourceState, SyncRun, WorklistItem
from pylantir.sync.runner import sync_source
from pylantir.sync.writer import source_ranks


def _items(database: Database) -> dict[str, WorklistItem]:
    with database.session() as session:
        return {item.patient_id: item for item in session.scalars(select(WorklistItem))}


def test_insert_then_unchanged_without_writes_then_update(memory, database, kit: SimpleNamespace) -> None:
    memory.rows["alpha"] = [kit.record(1), kit.record(2)]
    src = kit.source()
    first = sync_source(database, memory.registry, src)
    assert (first.outcome, first.fetched, first.inserted) == ("success", 2, 2)
    stored = _items(database)
    assert stored["P00001"].patient_name == "Family1^Given1"
    assert stored["P00001"].scheduled_start_time == "093000"
    assert stored["P00001"].source_name == "alpha"
    uid = stored["P00001"].study_instance_uid
    assert uid.startswith("2.25.")

    counter = kit.WriteCounter(database)
    again = sync_source(database, memory.registry, src)
    assert (again.unchanged, again.inserted, again.updated, counter.count) == (2, 0, 0, 0)

    memory.rows["alpha"] = [kit.record(1, desc="Knee MRI"), kit.record(2)]
    changed = sync_source(database, memory.registry, src)
    assert (changed.updated, changed.unchanged) == (1, 1)
    stored = _items(database)
    assert stored["P00001"].requested_procedure_description == "Knee MRI"
    assert stored["P00001"].study_instance_uid == uid  # generated UID survives re-syncs
    assert memory.fields["alpha"] == frozenset(kit.MAPPING)


def test_lineage_names_the_runs_that_inserted_and_last_changed_a_row(memory, database, kit) -> None:
    memory.rows["alpha"] = [kit.record(1), kit.record(2)]
    src = kit.source()
    first = sync_source(database, memory.registry, src)
    unchanged = sync_source(database, memory.registry, src)
    memory.rows["alpha"] = [kit.record(1, desc="Knee MRI"), kit.record(2)]
    changed = sync_source(database, memory.registry, src)
    assert len({first.run_id, unchanged.run_id, changed.run_id}) == 3
    stored = _items(database)
    assert (stored["P00001"].created_run_id, stored["P00001"].updated_run_id) == (first.run_id, changed.run_id)
    assert (stored["P00002"].created_run_id, stored["P00002"].updated_run_id) == (first.run_id, first.run_id)


def test_identity_without_uid_or_accession_uses_the_documented_key(memory, database, kit) -> None:
    mapping = {k: v for k, v in kit.MAPPING.items() if k != "acc"}
    memory.rows["alpha"] = [kit.record(1)]
    src = kit.source(field_mapping=mapping)
    sync_source(database, memory.registry, src)
    memory.rows["alpha"] = [kit.record(1, name="Given1 Renamed")]
    result = sync_source(database, memory.registry, src)
    assert (result.updated, result.inserted) == (1, 0)
    (item,) = _items(database).values()
    assert item.identity.startswith("key:") and item.patient_name == "Renamed^Given1"


def test_priority_dedup_and_conflict_log(memory, database, kit, caplog) -> None:
    low, high = kit.source("low"), kit.source("high", priority=1)
    ranks = source_ranks(kit.config_of(low, high))
    memory.rows["low"] = [kit.record(1, desc="from low"), kit.record(2)]
    memory.rows["high"] = [kit.record(1, desc="from high")]
    sync_source(database, memory.registry, low, ranks=ranks)
    with caplog.at_level(logging.INFO, logger="pylantir"):
        taken = sync_source(database, memory.registry, high, ranks=ranks)
        kept = sync_source(database, memory.registry, low, ranks=ranks)
    assert taken.conflicts == 1 and taken.updated == 1
    assert kept.conflicts == 1 and kept.updated == 0 and kept.unchanged == 1
    stored = _items(database)
    assert (stored["P00001"].source_name, stored["P00001"].requested_procedure_description) == ("high", "from high")
    assert len(stored) == 2
    conflict_lines = [r.getMessage() for r in caplog.records if "both provide" in r.getMessage()]
    assert conflict_lines and "'low'" in conflict_lines[0] and "acc:ACC00001" in conflict_lines[0]
    assert not any("Given1" in r.getMessage() or "P00001" in r.getMessage() for r in caplog.records)


def test_mpps_status_is_never_overwritten(memory, database, kit) -> None:
    memory.rows["alpha"] = [kit.record(1)]
    src = kit.source()
    sync_source(database, memory.registry, src)
    with database.session() as session:
        session.execute(update(WorklistItem).values(scheduled_procedure_step_status="STARTED", status_from_mpps=True))
    memory.rows["alpha"] = [kit.record(1, desc="changed")]
    result = sync_source(database, memory.registry, src)
    memory.rows["alpha"] = [kit.record(2)]  # a complete fetch without it: a started step is not removed
    removal = sync_source(database, memory.registry, src.model_copy(update={"removal_guard_fraction": 1.0}))
    item = _items(database)["P00001"]
    assert result.updated == 1 and item.requested_procedure_description == "changed"
    assert item.scheduled_procedure_step_status == "STARTED"
    assert removal.removed == 0


def test_removal_and_suspicious_fetch_guard(memory, database, kit) -> None:
    memory.rows["alpha"] = [kit.record(n) for n in range(1, 6)]
    src = kit.source(removal_guard_fraction=0.5)
    sync_source(database, memory.registry, src)

    memory.rows["alpha"] = [kit.record(n) for n in range(1, 5)]
    assert sync_source(database, memory.registry, src).removed == 1

    memory.rows["alpha"] = []
    empty = sync_source(database, memory.registry, src)
    assert empty.removed == 0 and "empty fetch" in empty.warnings[0]

    memory.rows["alpha"] = [kit.record(1)]
    drop = sync_source(database, memory.registry, src)
    assert drop.removed == 0 and "more than 50%" in drop.warnings[0]

    memory.rows["alpha"] = [kit.record(1)]
    memory.complete["alpha"] = False
    assert sync_source(database, memory.registry, src).removed == 0
    assert len(_items(database)) == 4


def test_unchanged_fetch_leaves_everything_and_state_saved_on_commit_only(memory, database, kit) -> None:
    memory.rows["alpha"] = [kit.record(1)]
    memory.saved["alpha"] = {"watermark": 1}
    src = kit.source()
    sync_source(database, memory.registry, src)

    memory.rows["alpha"] = []
    memory.unchanged["alpha"] = True
    memory.saved["alpha"] = {"watermark": 2}
    result = sync_source(database, memory.registry, src)
    assert result.outcome == "unchanged" and len(_items(database)) == 1
    assert memory.previous["alpha"] == {"watermark": 1}

    memory.unchanged["alpha"] = False
    memory.saved["alpha"] = {"watermark": 3}
    memory.raise_after["alpha"] = SourceError("export truncated")
    failed = sync_source(database, memory.registry, src)
    assert failed.outcome == "failed"
    with database.session() as session:
        assert session.get(SourceState, "alpha").plugin_state == {"watermark": 2}
        assert session.get(SourceState, "alpha").consecutive_failures == 1


def test_rejections_are_stored_and_valid_rows_still_land(memory, database, kit, caplog) -> None:
    memory.rows["alpha"] = [
        Record(kit.record(1), "line 2"),
        Record(kit.record(2, dob="31/02/1990", modality=""), "line 3"),
        Record(kit.record(3, sex="X"), "line 4"),
        Rejected("line 5", "wrong number of fields"),
        Record(kit.record(4, date="1999-01-01"), "line 6"),
        Record(kit.record(5, acc="ACC00001"), "line 7"),
        "garbage",
        kit.record(6),
    ]
    with caplog.at_level(logging.WARNING, logger="pylantir"):
        result = sync_source(database, memory.registry, kit.source())
    assert (result.outcome, result.fetched, result.inserted, result.rejected) == ("success", 8, 2, 6)
    with database.session() as session:
        rejected = {row.location: row for row in session.scalars(select(RejectedRow))}
    assert rejected["line 3"].field == "patient_birth_date"
    assert "source 'alpha', line 3" in rejected["line 3"].reason and "modality" in rejected["line 3"].reason
    assert rejected["line 4"].field == "patient_sex"
    assert rejected["line 5"].reason.endswith("wrong number of fields")
    assert rejected["line 6"].field == "scheduled_start_date"
    assert "earlier record" in rejected["line 7"].reason
    assert "item 7" in rejected
    assert not any("Given2" in r.getMessage() or "1990" in r.getMessage() for r in caplog.records)


def test_one_transaction_per_sync(memory, database, kit) -> None:
    memory.rows["alpha"] = [kit.record(n) for n in range(1, 50)]
    memory.raise_after["alpha"] = RuntimeError("plugin crashed at the end")
    result = sync_source(database, memory.registry, kit.source(), batch_size=10)
    assert result.outcome == "failed" and "RuntimeError" in result.error
    assert _items(database) == {}
    with database.session() as session:
        run = session.scalars(select(SyncRun)).one()
    assert (run.outcome, run.fetched, run.inserted) == ("failed", 49, 0)


def test_source_error_without_traceback_bug_in_one_line_traceback_at_debug(memory, database, kit, caplog) -> None:
    memory.errors["alpha"] = [SourceError("file /data/x.csv is missing")]
    memory.rows["beta"] = [kit.record(1)]
    memory.raise_after["beta"] = KeyError("oops")
    with caplog.at_level(logging.DEBUG, logger="pylantir"):
        expected = sync_source(database, memory.registry, kit.source("alpha"))
        bug = sync_source(database, memory.registry, kit.source("beta"))
    assert expected.error == "file /data/x.csv is missing"
    assert "plugin memory-plugin" in bug.error and "KeyError: 'oops'" in bug.error
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage().split("'")[1] for r in errors] == ["beta"]
    (line,) = errors
    # source, plugin, exception and where to look, on one line without a traceback
    assert not line.exc_info and "\n" not in line.getMessage()
    assert "source 'beta'" in line.getMessage() and "conftest.py:" in line.getMessage()
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert [r.levelno for r in tracebacks] == [logging.DEBUG]


def test_transient_errors_are_retried(memory, database, kit) -> None:
    memory.errors["alpha"] = [TransientSourceError("HTTP 503"), TransientSourceError("HTTP 503")]
    memory.rows["alpha"] = [kit.record(1)]
    result = sync_source(database, memory.registry, kit.source(), retry_wait=0)
    assert result.outcome == "success" and memory.calls["alpha"] == 3

    memory.errors["alpha"] = [TransientSourceError("HTTP 503")] * 3
    assert sync_source(database, memory.registry, kit.source(), retry_wait=0).outcome == "failed"


def test_a_hung_fetch_times_out_and_commits_nothing(memory, database, kit) -> None:
    memory.rows["alpha"] = [kit.record(1)]
    memory.gates["alpha"] = threading.Event()
    result = sync_source(database, memory.registry, kit.source(timeout=0.3))
    assert result.outcome == "timeout" and "timeout" in result.error
    memory.gates["alpha"].set()
    assert _items(database) == {}


def test_cancel_abandons_without_committing(memory, database, kit) -> None:
    memory.rows["alpha"] = [kit.record(1)]
    cancel = threading.Event()
    cancel.set()
    result = sync_source(database, memory.registry, kit.source(), cancel=cancel)
    assert result.outcome == "abandoned" and _items(database) == {}


def test_missing_plugin_and_bad_mapping_fail_cleanly(memory, database, kit) -> None:
    missing = sync_source(database, memory.registry, kit.source(type="nosuch"))
    assert missing.outcome == "failed" and "no working plugin" in missing.error
    bad = sync_source(database, memory.registry, kit.source(field_mapping={"x": {"from": 1}}))
    assert bad.outcome == "failed" and "field_mapping.x" in bad.error
    with database.session() as session:
        runs = session.scalars(select(SyncRun).order_by(SyncRun.id)).all()
        assert [run.outcome for run in runs] == ["failed", "failed"] and "field_mapping.x" in runs[1].error
        assert session.get(SourceState, "alpha").consecutive_failures == 2


def test_every_column_kind_round_trips(memory, database, kit) -> None:
    mapping = kit.MAPPING | {"extra.PatientState": {"from": "state"}, "patient_weight_lb": {"from": "lb"}}
    memory.rows["alpha"] = [kit.record(1, state="fasting", lb="150"), kit.record(2)]
    result = sync_source(database, memory.registry, kit.source(field_mapping=mapping))
    assert result.inserted == 2
    stored = _items(database)
    first, second = stored["P00001"], stored["P00002"]
    assert first.extra_attributes == {"PatientState": "fasting"} and second.extra_attributes is None
    assert first.patient_weight_kg == 68.0 and second.patient_weight_kg is None
    assert first.created_at.year >= 2026 and first.status_from_mpps is False
    assert first.scheduled_start.endswith("093000") and first.source_key == "record 1"



def test_a_repeated_rejection_is_logged_once(memory, database, kit, caplog) -> None:
    memory.rows["alpha"] = [kit.record(1), kit.record(2, pid=""), Rejected("line 7", "6 fields, 7 expected")]
    src = kit.source()

    def rejected_lines() -> list[str]:
        lines = [r.getMessage() for r in caplog.records
                 if r.levelno == logging.WARNING and "rejected" in r.getMessage()]
        caplog.clear()
        return lines

    with caplog.at_level(logging.INFO, logger="pylantir"):
        sync_source(database, memory.registry, src)
        assert len(rejected_lines()) == 2
        again = sync_source(database, memory.registry, src)
        assert again.rejected == 2 and rejected_lines() == []
        memory.rows["alpha"].append(kit.record(3, date="yesterday"))
        changed = sync_source(database, memory.registry, src)
        (line,) = rejected_lines()
        assert changed.rejected == 3 and "record 4" in line
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(RejectedRow)) == 2 + 2 + 3  # all stored


def test_a_database_failure_mid_sync_is_one_error_line_without_traceback_and_nothing_is_written(
        memory, database, kit, caplog) -> None:
    """The worklist table gone while the source is read (a dropped connection or a full disk fail the same
    way): the sync fails with the driver's words, logged on one line (the traceback only at DEBUG)."""
    memory.rows["alpha"] = [kit.record(1)]
    src = kit.source()
    sync_source(database, memory.registry, src)

    def rows() -> Iterator[dict[str, Any]]:
        yield kit.record(1, desc="Knee MRI")
        with database.engine.begin() as connection:
            connection.execute(text("ALTER TABLE worklist_items RENAME TO worklist_items_away"))
        yield kit.record(2)

    memory.rows["alpha"] = rows()
    try:
        with caplog.at_level(logging.INFO, logger="pylantir"):
            failed = sync_source(database, memory.registry, src)
    finally:
        with database.engine.begin() as connection:
            connection.execute(text("ALTER TABLE worklist_items_away RENAME TO worklist_items"))
    assert failed.outcome == "failed" and failed.error.startswith("the database failed: ")
    assert "worklist_items" in failed.error and "[SQL:" not in failed.error
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert [record.getMessage() for record in errors] == [f"source 'alpha' (type memory): {failed.error}"]
    assert not any(record.exc_info for record in caplog.records)
    assert {item.requested_procedure_description for item in _items(database).values()} != {"Knee MRI"}
    assert set(_items(database)) == {"P00001"}
