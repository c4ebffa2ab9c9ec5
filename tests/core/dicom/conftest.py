"""Fixtures for the DICOM server tests: a real database file, a real server on loopback, item factories."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydicom import Dataset
from pydicom.sequence import Sequence
from pylantir.config import PylantirConfig
from pylantir.dicom import RunningServer, start_server
from pylantir.dicom.client import Peer
from pylantir.store import Database, WorklistItem

_counter = itertools.count(1)


def _item(**values: Any) -> WorklistItem:
    n = next(_counter)
    date = values.pop("date", "20260105")
    time = values.pop("time", "100000")
    fields: dict[str, Any] = {
        "identity": f"test:{n}",
        "source_name": "test",
        "content_hash": "x",
        "patient_id": f"PID{n}",
        "patient_name": f"Patient^Number{n}",
        "study_instance_uid": f"1.2.826.0.1.3680043.10.999.{n}",
        "accession_number": f"ACC{n}",
        "requested_procedure_id": f"RP{n}",
        "scheduled_procedure_step_id": f"SPS{n}",
        "modality": "MR",
        "scheduled_station_aetitle": "MR1",
        "scheduled_start_date": date,
        "scheduled_start_time": time,
        "scheduled_start": date + time,
    }
    fields.update(values)
    return WorklistItem(**fields)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """An empty worklist database: a SQLite file, and PostgreSQL when configured."""
    db = Database.open(database_url)
    yield db
    db.close()


@pytest.fixture
def add_items(database: Database) -> Callable[..., list[WorklistItem]]:
    """Insert worklist items (keyword overrides per item; ``date``/``time`` fill the start columns)."""

    def add(*overrides: dict[str, Any]) -> list[WorklistItem]:
        items = [_item(**dict(o)) for o in overrides]
        with database.session() as session:
            session.add_all(items)
        return items

    return add


@pytest.fixture
def serve(database: Database) -> Iterator[Callable[..., RunningServer]]:
    """Start servers on free loopback ports (``serve(**server_settings)``); all are shut down after."""
    running: list[RunningServer] = []

    def start(config: PylantirConfig | None = None, **server: Any) -> RunningServer:
        cfg = config or PylantirConfig.model_validate({"server": server})
        instance = start_server(cfg, database, port=0)
        running.append(instance)
        return instance

    yield start
    for instance in running:
        instance.shutdown()


@pytest.fixture
def peer(serve: Callable[..., RunningServer]) -> Peer:
    """A client's view of a default server."""
    return Peer("127.0.0.1", serve().port)


@pytest.fixture
def query() -> Callable[..., Dataset]:
    """Build an identifier: ``query(top_level_keys, sps={...} or None)``; values '' ask for return keys."""

    def build(top: dict[str, Any] | None = None, sps: dict[str, Any] | None = None) -> Dataset:
        identifier = Dataset()
        for keyword, value in (top or {}).items():
            setattr(identifier, keyword, value)
        if sps is not None:
            step = Dataset()
            for keyword, value in sps.items():
                setattr(step, keyword, value)
            identifier.ScheduledProcedureStepSequence = Sequence([step])
        return identifier

    return build
