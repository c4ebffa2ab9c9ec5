"""The unchanged-source shortcut (``content_digest``, :mod:`pylantir.sync.unchanged`) gives what a fetch gives.

Every scenario is synced twice, on the same records: by a plugin without ``content_digest`` (every sync
fetches, maps and compares row by row) into one database, and by the same plugin with the hook into
another; the runs' counts, the worklist rows and the stored rejections must be equal, and the second
world must have skipped the fetch exactly when nothing it would have read had changed.
"""

from __future__ import annotations

import hashlib
import logging
import types
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from pylantir import Record, Rejected, SourceError, hookimpl
from pylantir.plugins import PluginRegistry
from pylantir.store import Database, RejectedRow, SourceState, WorklistItem
from pylantir.sync.clock import ManualClock
from pylantir.sync.result import SyncResult
from pylantir.sync.runner import sync_source

COLUMNS = ("identity", "content_hash", "source_name", "source_key", "patient_id", "patient_name",
           "scheduled_start_date", "scheduled_procedure_step_status", "status_from_mpps", "study_instance_uid")


class _Digests:
    """A memory plugin's ``content_digest``: a hash of the rows it would yield, or what the test sets."""

    def __init__(self, sources: Any):
        self.sources = sources
        self.calls = 0
        self.override: Any = None

    def digest(self, source_name: str) -> Any:
        self.calls += 1
        if isinstance(self.override, BaseException):
            raise self.override
        if self.override is not None:
            return self.override()
        return hashlib.sha256(repr(self.sources.rows[source_name]).encode()).hexdigest()


def give_digest(plugin: Any) -> _Digests:
    """Register the memory plugin ``plugin`` anew with a ``content_digest`` hook; the digests it answers."""
    digests = _Digests(plugin)
    module = plugin._module()  # the test plugin's functions, bound to ``plugin``

    @hookimpl
    def content_digest(source_name: str) -> Any:
        return digests.digest(source_name)

    module.content_digest = content_digest
    plugin.registry = PluginRegistry()
    plugin.registry.register_module(module, "memory-plugin-with-digest")
    return digests


class World:
    """One database synced through one registry."""

    def __init__(self, sources: Any, database: Database):
        self.sources = sources
        self.database = database

    def sync(self, source: Any, clock: ManualClock) -> SyncResult:
        return sync_source(self.database, self.sources.registry, source, clock=clock)

    def execute(self, statement: Any) -> None:
        with self.database.session() as session:
            session.execute(statement)


@pytest.fixture
def worlds(memory: Any, tmp_path: Path) -> Iterator[types.SimpleNamespace]:
    """``plain``: the memory plugin, which has no ``content_digest``; ``digest``: the same plugin with it."""
    with_digest = type(memory)()
    digests = give_digest(with_digest)
    plain_db = Database.open(f"sqlite:///{tmp_path / 'plain.sqlite'}")
    digest_db = Database.open(f"sqlite:///{tmp_path / 'digest.sqlite'}")
    yield types.SimpleNamespace(plain=World(memory, plain_db), digest=World(with_digest, digest_db),
                                digests=digests, clock=ManualClock(datetime.now(UTC)))
    plain_db.close()
    digest_db.close()


def _rows(database: Database) -> list[tuple[Any, ...]]:
    table = WorklistItem.__table__
    with database.session() as session:
        return sorted(tuple(row) for row in session.execute(select(*(table.c[name] for name in COLUMNS))))


def _rejections(database: Database, run_id: int | None) -> list[tuple[Any, ...]]:
    with database.session() as session:
        return [tuple(row) for row in session.execute(
            select(RejectedRow.location, RejectedRow.field, RejectedRow.reason)
            .where(RejectedRow.sync_run_id == run_id).order_by(RejectedRow.id))]


def _counts(result: SyncResult) -> tuple[Any, ...]:
    return (result.outcome, result.fetched, result.inserted, result.updated, result.unchanged, result.rejected,
            result.removed, result.error)


def _both(worlds: types.SimpleNamespace, source: Any, rows: list[Any], *, fetches: bool) -> SyncResult:
    """Sync ``rows`` in both worlds; the same outcome, rows and rejections; the digest world fetched or not."""
    worlds.plain.sources.rows[source.name] = list(rows)
    worlds.digest.sources.rows[source.name] = list(rows)
    calls = worlds.digest.sources.calls[source.name]
    plain = worlds.plain.sync(source, worlds.clock)
    digest = worlds.digest.sync(source, worlds.clock)
    assert _counts(digest) == _counts(plain)
    assert _rows(worlds.digest.database) == _rows(worlds.plain.database)
    assert _rejections(worlds.digest.database, digest.run_id) == _rejections(worlds.plain.database, plain.run_id)
    assert worlds.digest.sources.calls[source.name] == calls + fetches
    return digest


def _far(days: int, today: date) -> str:
    return (today + timedelta(days=days)).isoformat()


def test_content_digest_shortcut_gives_what_the_fetch_gives(worlds, kit) -> None:
    today = worlds.clock.now().date()
    rows: list[Any] = [
        Record(kit.record(1), "line 2"),
        Record(kit.record(2), "line 3"),
        Record(kit.record(3, sex="X"), "line 4"),  # invalid
        Rejected("line 5", "wrong number of fields"),
        Record(kit.record(4, acc="ACC00001", pid="P00001"), "line 6"),  # same entry as line 2
        Record(kit.record(5, date=_far(5 * 366 + 1, today)), "line 7"),  # implausible until tomorrow
        "garbage",
        kit.record(6),
        kit.record(6),  # the same record twice: the second is the same entry
    ]
    src = kit.source()
    first = _both(worlds, src, rows, fetches=True)
    assert (first.inserted, first.rejected) == (3, 6)
    again = _both(worlds, src, rows, fetches=False)
    assert (again.outcome, again.fetched, again.unchanged, again.rejected) == ("success", 9, 3, 6)
    _both(worlds, src, rows, fetches=False)  # the proof of a run without a fetch holds too

    # MPPS takes an entry over: no content hash changes, the fetch would find it unchanged too
    for world in (worlds.plain, worlds.digest):
        world.execute(update(WorklistItem).where(WorklistItem.patient_id == "P00001")
                      .values(scheduled_procedure_step_status="STARTED", status_from_mpps=True))
    _both(worlds, src, rows, fetches=False)

    # an entry deleted behind the sync's back, another taken over by another source: fetched, written again
    for world in (worlds.plain, worlds.digest):
        world.execute(delete(WorklistItem).where(WorklistItem.patient_id == "P00002"))
    assert _both(worlds, src, rows, fetches=True).inserted == 1
    _both(worlds, src, rows, fetches=False)
    for world in (worlds.plain, worlds.digest):
        world.execute(update(WorklistItem).where(WorklistItem.patient_id == "P00006").values(source_name="beta"))
    assert _both(worlds, src, rows, fetches=True).updated == 1

    # a changed record changes the digest
    rows[1] = Record(kit.record(2, desc="Knee MRI"), "line 3")
    assert _both(worlds, src, rows, fetches=True).updated == 1
    _both(worlds, src, rows, fetches=False)

    # the next day the quality gate judges dates again: line 7 is now plausible
    worlds.clock.advance(86400)
    assert _both(worlds, src, rows, fetches=True).inserted == 1
    assert _both(worlds, src, rows, fetches=False).unchanged == 4

    # a stored entry's record turns invalid: the entry stays (rejected, but identified), and is not one the
    # fetch finds unchanged; MPPS progress on another entry now forces a fetch (a row the fetch does not
    # see might have become removable)
    rows[1] = Record(kit.record(2, desc="Knee MRI", sex="X"), "line 3")
    _both(worlds, src, rows, fetches=True)
    assert _both(worlds, src, rows, fetches=False).unchanged == 3
    for world in (worlds.plain, worlds.digest):
        world.execute(update(WorklistItem).where(WorklistItem.patient_id == "P00006")
                      .values(scheduled_procedure_step_status="STARTED", status_from_mpps=True))
    _both(worlds, src, rows, fetches=True)
    _both(worlds, src, rows, fetches=False)

    # a changed mapping changes the key
    remapped = kit.source(field_mapping={**kit.MAPPING, "desc": "procedure_description"})
    _both(worlds, remapped, rows, fetches=True)
    _both(worlds, remapped, rows, fetches=False)


def test_content_digest_shortcut_keeps_the_plugins_saved_state(worlds, kit) -> None:
    src = kit.source()
    for world in (worlds.plain, worlds.digest):
        world.sources.saved["alpha"] = {"watermark": 1}
    _both(worlds, src, [kit.record(1)], fetches=True)
    for world in (worlds.plain, worlds.digest):
        world.sources.saved["alpha"] = {"watermark": 2}  # what a fetch would save now: the shortcut keeps 1
    _both(worlds, src, [kit.record(1)], fetches=False)
    with worlds.digest.database.session() as session:
        assert session.get(SourceState, "alpha").plugin_state == {"watermark": 1}
    worlds.digest.sources.rows["alpha"] = [kit.record(2)]
    worlds.digest.sync(src, worlds.clock)
    assert worlds.digest.sources.previous["alpha"] == {"watermark": 1}


def test_content_digest_none_an_error_or_an_incomplete_fetch_means_fetching(worlds, kit, caplog) -> None:
    src = kit.source()
    rows = [kit.record(1), kit.record(2)]
    _both(worlds, src, rows, fetches=True)
    worlds.digests.override = lambda: None  # the plugin cannot tell this time
    _both(worlds, src, rows, fetches=True)
    worlds.digests.override = SourceError("source 'alpha': export missing")
    _both(worlds, src, rows, fetches=True)
    worlds.digests.override = lambda: 42  # a bug of the plugin: a WARNING, and the fetch
    with caplog.at_level(logging.WARNING, logger="pylantir"):
        _both(worlds, src, rows, fetches=True)
    assert any("content_digest" in record.getMessage() and "expected a text" in record.getMessage()
               for record in caplog.records)
    worlds.digests.override = None
    _both(worlds, src, rows, fetches=True)  # a sync without a digest left no proof
    _both(worlds, src, rows, fetches=False)

    for world in (worlds.plain, worlds.digest):
        world.sources.complete["alpha"] = False  # an incremental fetch (of changed content) proves nothing
    rows.append(kit.record(3))
    _both(worlds, src, rows, fetches=True)
    for world in (worlds.plain, worlds.digest):
        world.sources.complete["alpha"] = True
    _both(worlds, src, rows, fetches=True)
    _both(worlds, src, rows, fetches=False)


def test_content_digest_shortcut_on_each_database(memory, database, kit) -> None:
    """SQLite and PostgreSQL: the second sync records its run without a fetch, with the first one's counts."""
    give_digest(memory)
    memory.rows["alpha"] = [kit.record(1), kit.record(2), kit.record(3, sex="X")]
    src = kit.source()
    first = sync_source(database, memory.registry, src)
    second = sync_source(database, memory.registry, src)
    assert memory.calls["alpha"] == 1
    assert (first.inserted, first.rejected) == (2, 1)
    assert (second.outcome, second.fetched, second.unchanged, second.rejected) == ("success", 3, 2, 1)
    assert _rejections(database, second.run_id) == _rejections(database, first.run_id)
