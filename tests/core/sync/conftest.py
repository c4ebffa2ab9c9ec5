"""Shared helpers for the sync engine's tests: a controllable in-memory source plugin, loaded through
the plugin registry, plus valid raw records, configs and a counter of worklist row writes."""

from __future__ import annotations

import threading
import types
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import event

from pylantir import ConfigProblem, SourceType, hookimpl
from pylantir.config import DataSourceSettings, PylantirConfig
from pylantir.plugins import PluginRegistry
from pylantir.store import Database

MAPPING = {
    "pid": "patient_id",
    "name": "patient_name",
    "dob": "patient_birth_date",
    "sex": "patient_sex",
    "date": "scheduled_start_date",
    "time": "scheduled_start_time",
    "modality": "modality",
    "acc": "accession_number",
    "desc": "study_description",
}


def record(number: int, **changes: Any) -> dict[str, Any]:
    """A valid raw record for today, unique per ``number``."""
    base = {
        "pid": f"P{number:05d}",
        "name": f"Given{number} Family{number}",
        "dob": "1980-02-03",
        "sex": "F",
        "date": date.today().isoformat(),
        "time": "09:30",
        "modality": "MR",
        "acc": f"ACC{number:05d}",
        "desc": "Brain MRI",
    }
    base.update(changes)
    return base


class MemorySources:
    """What each ``memory`` source yields and how it behaves, set per source name by the test."""

    def __init__(self) -> None:
        self.rows: dict[str, list[Any]] = defaultdict(list)
        self.errors: dict[str, list[BaseException]] = defaultdict(list)
        self.gates: dict[str, threading.Event] = {}
        self.raise_after: dict[str, BaseException] = {}
        self.complete: dict[str, bool] = {}
        self.unchanged: dict[str, bool] = {}
        self.saved: dict[str, dict[str, Any]] = {}
        self.previous: dict[str, dict[str, Any]] = {}
        self.fields: dict[str, frozenset[str]] = {}
        self.calls: dict[str, int] = defaultdict(int)
        self.registry = PluginRegistry()
        self.registry.register_module(self._module(), "memory-plugin")

    def _module(self) -> types.ModuleType:
        module = types.ModuleType("memory_source_plugin")
        sources = self

        @hookimpl
        def source_types() -> list[SourceType]:
            return [SourceType("memory", "rows held by the test")]

        @hookimpl
        def validate_config(config: dict[str, Any]) -> list[ConfigProblem]:
            return [ConfigProblem(key, "unknown key") for key in config if key != "note"]

        @hookimpl
        def fetch_entries(source_name: str, fields: frozenset[str], state: Any) -> Iterator[Any]:
            sources.calls[source_name] += 1
            sources.fields[source_name] = fields
            sources.previous[source_name] = dict(state.previous)
            if sources.errors[source_name]:
                raise sources.errors[source_name].pop(0)
            if source_name in sources.gates:
                sources.gates[source_name].wait(30)
            state.complete = sources.complete.get(source_name, True)
            state.unchanged = sources.unchanged.get(source_name, False)
            state.saved = sources.saved.get(source_name, {})
            yield from sources.rows[source_name]
            if source_name in sources.raise_after:
                raise sources.raise_after[source_name]

        module.source_types = source_types
        module.validate_config = validate_config
        module.fetch_entries = fetch_entries
        return module


@pytest.fixture
def memory() -> Iterator[MemorySources]:
    """A fresh registry with the ``memory`` test plugin; releases any gate the test left closed."""
    sources = MemorySources()
    yield sources
    for gate in sources.gates.values():
        gate.set()


def source(name: str = "alpha", **settings: Any) -> DataSourceSettings:
    """A ``memory`` source with the standard mapping."""
    settings.setdefault("field_mapping", MAPPING)
    settings.setdefault("type", "memory")
    return DataSourceSettings(name=name, **settings)


def config_of(*sources: DataSourceSettings, database_url: str = "sqlite://") -> PylantirConfig:
    """A configuration holding ``sources``."""
    return PylantirConfig(data_sources=list(sources), database_url=database_url)



@pytest.fixture
def sqlite_database(sqlite_url: str) -> Iterator[Database]:
    """A fresh SQLite database, for tests of scheduling rather than of SQL."""
    db = Database.open(sqlite_url)
    yield db
    db.close()


class WriteCounter:
    """Counts statements that write worklist rows."""

    def __init__(self, db: Database):
        self.count = 0
        event.listen(db.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        head = statement.lstrip().upper()
        if head.startswith(("INSERT INTO WORKLIST_ITEMS", "UPDATE WORKLIST_ITEMS", "DELETE FROM WORKLIST_ITEMS")):
            self.count += 1


def utc(*args: int) -> datetime:
    """A UTC datetime."""
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def kit() -> types.SimpleNamespace:
    """The helpers above, for test modules (which cannot import this conftest)."""
    return types.SimpleNamespace(
        MAPPING=MAPPING, record=record, source=source, config_of=config_of, WriteCounter=WriteCounter, utc=utc
    )
