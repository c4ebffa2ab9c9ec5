"""Alembic migrations: a new database, an older revision with rows, a previous-Pylantir database."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, Table, create_engine, func, insert, inspect, select, text

from pylantir.config import PylantirConfig
from pylantir.store import Base, Database, PerformedProcedureStep, SyncRun, WorklistItem
from pylantir.store.queries import row_counts
from pylantir.store.schema import SchemaError, current_revision, head_revision, upgrade_schema
from pylantir.sync.service import SyncService
from pylantir.testing import load_distribution


def test_new_database_gets_the_whole_schema(database_url):
    database = Database.open(database_url)
    try:
        assert database.revision() == head_revision()
        assert set(Base.metadata.tables) <= set(inspect(database.engine).get_table_names())
        with database.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert differences == [], "the new database and the models disagree"
    finally:
        database.close()


def _schema(engine) -> dict[str, dict[str, object]]:
    """Every table's columns (any order), keys, constraints and indexes, as the database reports them."""
    inspector = inspect(engine)

    def named(entries: list[dict]) -> list[tuple]:
        return sorted(tuple((key, repr(value)) for key, value in sorted(entry.items())) for entry in entries)

    return {
        table: {
            "columns": sorted((c["name"], str(c["type"]), c["nullable"], c.get("default")) for c in
                              inspector.get_columns(table)),
            "primary key": inspector.get_pk_constraint(table),
            "unique": named(inspector.get_unique_constraints(table)),
            "foreign keys": named(inspector.get_foreign_keys(table)),
            "indexes": named(inspector.get_indexes(table)),
            "checks": named(inspector.get_check_constraints(table)),
        }
        for table in inspector.get_table_names()
    }


def test_a_new_database_gets_the_schema_the_migrations_build(database_url):
    # A new database is created from the models and stamped (store.schema); an older one is migrated
    # revision by revision: both must end with the same tables, columns, keys, indexes and version table.
    from alembic import command

    from pylantir.store.schema import alembic_config

    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "head")
        migrated = _schema(engine)
        with engine.begin() as connection:
            Base.metadata.drop_all(connection)
            connection.execute(text("DROP TABLE alembic_version"))
        assert inspect(engine).get_table_names() == []
        upgrade_schema(engine)
        assert current_revision(engine) == head_revision()
        assert _schema(engine) == migrated
    finally:
        engine.dispose()


def test_open_twice_is_a_no_op(sqlite_url, make_item):
    with Database.open(sqlite_url).session() as session:
        session.add(make_item())
    database = Database.open(sqlite_url)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(WorklistItem)) == 1
    database.close()


def _insert_at_revision(connection, rows: list[dict]) -> None:
    """Insert worklist rows into the table as an older revision laid it out (reflected, not the model)."""
    table = Table("worklist_items", MetaData(), autoload_with=connection)
    now = datetime.now(UTC)
    required = {"created_at": now, "updated_at": now, "last_seen_at": now, "status_from_mpps": False,
                "performed_procedure_step_status": "SCHEDULED", "scheduled_procedure_step_status": "SCHEDULED"}
    for row in rows:
        connection.execute(insert(table), {**{k: v for k, v in required.items() if k in table.c}, **row})


def test_previous_revision_is_upgraded_with_rows_kept(database_url, worklist_values):
    engine = create_engine(database_url)
    upgrade_schema(engine, "0001")
    assert current_revision(engine) == "0001"
    with engine.begin() as connection:
        _insert_at_revision(connection, [worklist_values(patient_id=f"P{i}") for i in range(3)])
        connection.execute(insert(SyncRun.__table__), {"source_name": "site_a", "source_type": "csv"})
    assert "ix_sync_runs_source_started" not in {i["name"] for i in inspect(engine).get_indexes("sync_runs")}
    engine.dispose()

    database = Database.open(database_url)
    try:
        assert database.revision() == head_revision()
        assert "ix_sync_runs_source_started" in {i["name"] for i in inspect(database.engine).get_indexes("sync_runs")}
        worklist_indexes = {i["name"] for i in inspect(database.engine).get_indexes("worklist_items")}
        assert "ix_worklist_start_modality_station_status" in worklist_indexes
        assert "ix_worklist_items_modality" not in worklist_indexes
        with database.session() as session:
            assert sorted(session.scalars(select(WorklistItem.patient_id))) == ["P0", "P1", "P2"]
            assert session.scalars(select(SyncRun.source_name)).all() == ["site_a"]
    finally:
        database.close()


def test_lineage_columns_keep_rows_and_mpps_links(database_url, worklist_values):
    """0004 copies the worklist table on SQLite: rows, ids and the MPPS instances' links survive it."""
    engine = create_engine(database_url)
    upgrade_schema(engine, "0003")
    with engine.begin() as connection:
        _insert_at_revision(connection, [worklist_values(id=7, patient_id="P7")])
        connection.execute(insert(PerformedProcedureStep.__table__), {
            "sop_instance_uid": "1.2.3.4", "status": "COMPLETED", "worklist_item_id": 7, "attributes": {},
        })
    engine.dispose()

    database = Database.open(database_url)
    try:
        with database.session() as session:
            item = session.get(WorklistItem, 7)
            assert (item.patient_id, item.created_run_id, item.updated_run_id) == ("P7", None, None)
            assert session.get(PerformedProcedureStep, "1.2.3.4").worklist_item_id == 7
            run = SyncRun(source_name="site_a", source_type="csv", host="h", pid=1)
            session.add(run)
            session.flush()
            item.created_run_id = item.updated_run_id = run.id
        with database.session() as session:  # deleting a run keeps the rows it wrote (ON DELETE SET NULL)
            session.delete(session.get(SyncRun, run.id))
        with database.session() as session:
            assert session.get(WorklistItem, 7).created_run_id is None
    finally:
        database.close()


def test_columns_renamed_for_what_they_hold_with_rows_kept(database_url, worklist_values):
    # 0005: the Scheduled Procedure Step Status and the Requested Procedure Description get their own names
    engine = create_engine(database_url)
    upgrade_schema(engine, "0004")
    with engine.begin() as connection:
        _insert_at_revision(connection, [
            worklist_values(id=1, patient_id="P1", performed_procedure_step_status="STARTED",
                            study_description="Knee MRI"),
            worklist_values(id=2, patient_id="P2"),
        ])
        connection.execute(insert(PerformedProcedureStep.__table__), {
            "sop_instance_uid": "1.2.3.4", "status": "IN PROGRESS", "worklist_item_id": 1, "attributes": {},
        })
    engine.dispose()

    upgrade_schema(engine, "0005")
    engine.dispose()
    database = Database(database_url)
    try:
        columns = {column["name"] for column in inspect(database.engine).get_columns("worklist_items")}
        assert {"scheduled_procedure_step_status", "requested_procedure_description"} <= columns
        assert not columns & {"performed_procedure_step_status", "study_description", "last_seen_at"}
        [index] = [i for i in inspect(database.engine).get_indexes("worklist_items")
                   if i["name"] == "ix_worklist_start_modality_station_status"]
        assert index["column_names"] == ["scheduled_start", "modality", "scheduled_station_aetitle",
                                         "scheduled_procedure_step_status"]
        with database.session() as session:
            stored = session.execute(select(
                WorklistItem.patient_id, WorklistItem.scheduled_procedure_step_status,
                WorklistItem.requested_procedure_description,
            ).order_by(WorklistItem.patient_id)).all()
            assert session.get(PerformedProcedureStep, "1.2.3.4").worklist_item_id == 1  # no table copy
        assert stored == [("P1", "STARTED", "Knee MRI"), ("P2", "SCHEDULED", None)]
    finally:
        database.close()

    engine = create_engine(database_url)
    with engine.begin() as connection:  # the downgrade gives the old names their values back
        from alembic import command

        from pylantir.store.schema import alembic_config

        command.downgrade(alembic_config(connection), "0004")
        back = connection.execute(text(
            "SELECT patient_id, performed_procedure_step_status, study_description, last_seen_at IS NOT NULL "
            "FROM worklist_items ORDER BY patient_id"
        )).all()
    engine.dispose()
    assert [tuple(row) for row in back] == [("P1", "STARTED", "Knee MRI", True), ("P2", "SCHEDULED", None, True)]


def test_steps_get_their_identity_and_extras_their_level_with_rows_kept(database_url, worklist_values):
    # 0006: identities name the step, step-level extras move to the step, the station column holds several
    engine = create_engine(database_url)
    upgrade_schema(engine, "0005")
    with engine.begin() as connection:
        _insert_at_revision(connection, [
            worklist_values(id=1, identity="acc:ACC1", accession_number="ACC1", scheduled_procedure_step_id="S1",
                            extra_attributes={"RequestedContrastAgent": "Gd", "PatientState": "fasting"}),
            worklist_values(id=2, identity="uid:1.2.3", study_instance_uid="1.2.3", scheduled_procedure_step_id=None,
                            extra_attributes={"PreMedication": "none"}),
            worklist_values(id=3, identity="key:abc", scheduled_procedure_step_id="S9"),
        ])
        connection.execute(insert(PerformedProcedureStep.__table__), {
            "sop_instance_uid": "1.2.3.4", "status": "IN PROGRESS", "worklist_item_id": 1, "attributes": {},
        })
    engine.dispose()

    database = Database.open(database_url)
    try:
        with database.engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        with database.session() as session:
            items = {item.id: item for item in session.scalars(select(WorklistItem))}
            assert {key: item.identity for key, item in items.items()} == {
                1: "acc:ACC1\\sps:S1", 2: "uid:1.2.3", 3: "key:abc"}
            assert (items[1].extra_attributes, items[1].extra_step_attributes) == (
                {"PatientState": "fasting"}, {"RequestedContrastAgent": "Gd"})
            assert (items[2].extra_attributes, items[2].extra_step_attributes) == (None, {"PreMedication": "none"})
            assert session.get(PerformedProcedureStep, "1.2.3.4").worklist_item_id == 1  # the copy kept the link
            items[3].scheduled_station_aetitle = "\\".join(["A" * 16] * 8)  # eight titles fit (PostgreSQL checks)
    finally:
        database.close()


@pytest.mark.plugin("pylantir-json")
def test_the_first_sync_after_the_step_migration_finds_the_stored_rows(database_url, tmp_path: Path):
    # a row the previous revision stored for this record, with the identity it computed then
    today = datetime.now(UTC).strftime("%Y%m%d")
    engine = create_engine(database_url)
    upgrade_schema(engine, "0005")
    with engine.begin() as connection:
        _insert_at_revision(connection, [{
            "identity": "acc:ACC1", "source_name": "ris", "content_hash": "old", "patient_id": "J1",
            "patient_name": "Demo^One", "modality": "MR", "accession_number": "ACC1", "study_instance_uid": "1.2.3",
            "scheduled_procedure_step_id": "S1", "scheduled_start_date": today, "scheduled_start_time": "090000",
            "scheduled_start": today + "090000",
        }])
    engine.dispose()
    export = tmp_path / "export.json"
    export.write_text(json.dumps([{"mrn": "J1", "name": "Demo^One", "modality": "MR", "date": today, "time": "09:00",
                                   "acc": "ACC1", "uid": "1.2.3", "step": "S1"}]))
    config = PylantirConfig.model_validate({"data_sources": [{
        "name": "ris", "type": "json", "config": {"file_path": str(export)},
        "field_mapping": {"mrn": "patient_id", "name": "patient_name", "modality": "modality",
                          "date": "scheduled_start_date", "time": "scheduled_start_time", "acc": "accession_number",
                          "step": "scheduled_procedure_step_id"},
    }]})
    database = Database.open(database_url)
    try:
        (result,) = SyncService(config, load_distribution("pylantir-json")[0], database).run_once()
        assert (result.outcome, result.inserted, result.updated) == ("success", 0, 1)
        with database.session() as session:
            assert session.scalars(select(WorklistItem.identity)).all() == ["acc:ACC1\\sps:S1"]
    finally:
        database.close()


def test_previous_pylantir_worklist_table_is_kept_aside(tmp_path: Path):
    path = tmp_path / "worklist.db"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE worklist_items (id INTEGER PRIMARY KEY, study_instance_uid VARCHAR(100), "
            "patient_name VARCHAR(100), patient_id VARCHAR(50), status VARCHAR)"
        )
        old.execute("INSERT INTO worklist_items VALUES (1, '1.2.3', 'cpip-id-1^fa-2', 'sub_1', 'COMPLETED')")
    old.close()

    database = Database.open(f"sqlite:///{path}")
    try:
        with database.engine.connect() as connection:
            kept = connection.execute(text("SELECT patient_id, status FROM legacy_worklist_items")).all()
            assert kept == [("sub_1", "COMPLETED")]
            assert connection.scalar(select(func.count()).select_from(WorklistItem)) == 0
        assert database.revision() == head_revision()
        assert row_counts(database.engine)["legacy_worklist_items"] == 1
    finally:
        database.close()


def test_a_newer_unknown_revision_is_refused_clearly(sqlite_url):
    Database.open(sqlite_url).close()
    engine = create_engine(sqlite_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    with pytest.raises(SchemaError, match="revision 0999, which this Pylantir does not know .* upgrade Pylantir"):
        Database.open(sqlite_url)
    engine.dispose()


def test_sqlite_is_set_up_for_one_writer_and_many_readers(tmp_path: Path):
    database = Database.open(f"sqlite:///{tmp_path / 'a' / 'b' / 'worklist.sqlite'}")
    try:
        with database.engine.connect() as connection:
            assert connection.scalar(text("PRAGMA journal_mode")) == "wal"
            assert connection.scalar(text("PRAGMA foreign_keys")) == 1
            assert connection.scalar(text("PRAGMA busy_timeout")) >= 1000
    finally:
        database.close()


def test_safe_url_hides_the_password():
    database = Database("postgresql+psycopg2://pylantir:s3cret@db.example:5432/worklist")
    assert database.safe_url() == "postgresql+psycopg2://pylantir:***@db.example:5432/worklist"
    database.close()


STARTER = """
import sys, time
from pylantir.store import Database
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # start together, imports done
Database.open(sys.argv[1]).close()
"""


def test_instances_starting_at_once_on_a_new_database(database_url):
    # several Pylantir processes may share a database and start together: one migrates, the others wait
    start_at = time.time() + 2
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", STARTER, database_url, str(start_at)], stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    errors = [process.communicate(timeout=60)[1] for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], errors
    engine = create_engine(database_url)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_the_revisions_read_from_the_scripts_are_alembics():
    """The revision check reads the scripts' ``revision`` lines without Alembic: the same graph as Alembic's."""
    from alembic.script import ScriptDirectory

    from pylantir.store.schema import alembic_config, known_revisions

    scripts = ScriptDirectory.from_config(alembic_config())
    assert known_revisions() == {script.revision: script.down_revision for script in scripts.walk_revisions()}
    assert head_revision() == scripts.get_current_head()

