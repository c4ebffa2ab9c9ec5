"""The SQLite raw-driver bulk insert and SQLAlchemy's own one store the same rows from the same input; a table
filled from empty gets its indexes back, and keeps them when the fill fails.

(The upsert of an entry another writer inserted meanwhile is PostgreSQL's: tests/core/sync/test_concurrent_writers.py.)
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import func, inspect, select

from pylantir.store import Database, WorklistItem
from pylantir.store.bulk import BulkUpsert, indexes_built_after
from pylantir.sync.mapping import FieldMapping
from pylantir.sync.rows import INSERT_COLUMNS, PreparedRow, RowPreparer

TABLE = WorklistItem.__table__
NOW = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
MAPPING = {"pid": "patient_id", "name": "patient_name", "day": "scheduled_start_date", "modality": "modality",
           "acc": "accession_number", "kg": "patient_weight_kg", "state": "extra.PatientState",
           "time": "scheduled_start_time"}


def _rows(version: str) -> list[tuple[Any, ...]]:
    preparer = RowPreparer(FieldMapping.parse(MAPPING), date.today())
    records = [
        {"pid": f"P{n}", "name": f"Given{n} Family{n}", "day": date.today().isoformat(), "modality": "MR",
         "acc": f"A{n}", "kg": 70 + n if n % 2 else None, "state": f"{version}{n}" if n % 3 else None,
         "time": "0930" if n % 4 else None}
        for n in range(12)
    ]
    prepared = [preparer.prepare(record, f"record {n}", f"{version}-{n}") for n, record in enumerate(records)]
    assert all(isinstance(row, PreparedRow) for row in prepared)
    return [row.insert_form() for row in prepared]  # type: ignore[union-attr]


def _overwrite(excluded: Any) -> tuple[dict[str, Any], None]:
    return {name: excluded[name] for name in INSERT_COLUMNS[1:]}, None


def _upsert(session: Any, raw: bool = True) -> BulkUpsert:
    constants = {"source_name": "s", "created_at": NOW, "updated_at": NOW, "status_from_mpps": False}
    return BulkUpsert(session, TABLE, INSERT_COLUMNS, constants, "identity", _overwrite, raw=raw)


def _write(url: str, raw: bool) -> list[dict[str, Any]]:
    database = Database.open(url)
    try:
        for version, batches in (("v1", [slice(0, 5), slice(5, 9)]), ("v2", [slice(9, 12)])):
            rows = _rows(version)
            with database.session() as session:
                upsert = _upsert(session, raw)
                for part in batches:
                    upsert.execute(rows[part])
        with database.session() as session:
            items = session.scalars(select(WorklistItem).order_by(WorklistItem.identity)).all()
            return [{column.key: getattr(item, column.key) for column in TABLE.columns if column.key != "id"}
                    for item in items]
    finally:
        database.close()


def test_raw_and_sqlalchemy_paths_store_the_same_rows(tmp_path) -> None:
    raw = _write(f"sqlite:///{tmp_path / 'raw.sqlite'}", raw=True)
    plain = _write(f"sqlite:///{tmp_path / 'plain.sqlite'}", raw=False)
    assert len(raw) == 12 and raw == plain
    by_id = {row["patient_id"]: row for row in raw}
    assert by_id["P4"]["content_hash"] == "v1-4" and by_id["P10"]["content_hash"] == "v2-10"
    assert by_id["P4"]["extra_attributes"] == {"PatientState": "v14"} and by_id["P3"]["extra_attributes"] is None


def _index_names(connection: Any) -> list[str]:
    """The models' indexes of the worklist table that the database has."""
    found = {index["name"] for index in inspect(connection).get_indexes("worklist_items")}
    return sorted(str(index.name) for index in TABLE.indexes if index.name in found)


def test_a_table_filled_from_empty_gets_its_indexes_back(database_url) -> None:
    database = Database.open(database_url)
    try:
        with database.engine.connect() as connection:
            indexes = _index_names(connection)
        assert len(indexes) == len(TABLE.indexes)
        with database.session() as session:
            with indexes_built_after(session, TABLE):
                # SQLite fills the table without them; PostgreSQL keeps them (dropping would lock out readers)
                assert _index_names(session.connection()) == ([] if database_url.startswith("sqlite") else indexes)
                _upsert(session).execute(_rows("v1"))
        with database.engine.connect() as connection:
            assert _index_names(connection) == indexes
            assert connection.scalar(select(func.count()).select_from(TABLE)) == 12
        with database.session() as session, indexes_built_after(session, TABLE):
            assert _index_names(session.connection()) == indexes  # rows stored: nothing is dropped
    finally:
        database.close()


def test_a_failed_fill_from_empty_keeps_the_indexes_and_stores_nothing(sqlite_url) -> None:
    database = Database.open(sqlite_url)
    try:
        with database.engine.connect() as connection:
            indexes = _index_names(connection)
        with pytest.raises(RuntimeError, match="the source failed"), database.session() as session:
            with indexes_built_after(session, TABLE):
                _upsert(session).execute(_rows("v1"))
                raise RuntimeError("the source failed")
        with database.engine.connect() as connection:
            assert _index_names(connection) == indexes
            assert connection.scalar(select(func.count()).select_from(TABLE)) == 0
    finally:
        database.close()
