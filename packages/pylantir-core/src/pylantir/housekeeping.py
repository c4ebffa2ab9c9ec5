"""Housekeeping: what left the worklist, and the sync history, do not pile up for ever.

The rules (``housekeeping`` in the configuration; a ``*_days`` of ``null`` keeps those rows for ever):

- **finished items** (COMPLETED, DISCONTINUED, CANCELED) and their MPPS instances, once the item's last
  change (``updated_at``: a sync, an MPPS N-SET, the HTTP service) and every MPPS instance's are
  ``finished_items_days`` old;
- **expired items** (SCHEDULED, ARRIVED, READY) whose scheduled date is more than ``expired_items_days``
  before today (the site's time zone); never a STARTED item, nor an item with an MPPS instance IN PROGRESS;
- **MPPS instances** COMPLETED or DISCONTINUED that name no item any more, ``finished_items_days`` after
  their last change;
- **rejected rows** of sync runs that ended ``rejected_rows_days`` ago, and **sync runs** that ended
  ``sync_runs_days`` ago (each source's latest run is kept, and runs still under way);
- **write-back changes** delivered or superseded ``write_back_days`` after they ended (failed and pending
  ones are kept: a person retries the failed, the worker delivers the pending);
- the **record of removed entries** once their date is older than the quality gate accepts (no sync can
  bring such an entry back).

Every item removed is recorded (:mod:`pylantir.store.removed`), so a source that still returns it does
not bring it back; it comes back only if its source schedules it later than it was.

A pass reads candidates ``batch_size`` ids at a time in primary-key order (keyset), outside any write
transaction, and deletes each batch in a transaction of its own whose DELETE checks the rule again, so a
row changed meanwhile stays and SQLite's write lock is held for one batch at a time. On PostgreSQL a pass
holds a transaction-scoped advisory lock (on a connection of its own): an instance that finds it taken
skips its pass, so several instances sharing a database never prune at the same time. Passes are logged
as counts, never values.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Table, and_, delete, func, or_, select, text
from sqlalchemy.exc import SQLAlchemyError

from pylantir.config import Housekeeping, PylantirConfig
from pylantir.store import (
    Database,
    PerformedProcedureStep,
    RejectedRow,
    RemovedEntry,
    SyncRun,
    WorklistItem,
    WriteBackChange,
)
from pylantir.store.catalogue import STATUS
from pylantir.store.removed import record_removed
from pylantir.sync.clock import Clock, SystemClock, site_today
from pylantir.sync.quality import SCHEDULED_DAYS_BEFORE
from pylantir.writeback import outbox

log = logging.getLogger(__name__)

#: Scheduled Procedure Step Statuses of items that left the worklist for good.
FINISHED_STATUSES = ("COMPLETED", "DISCONTINUED", "CANCELED")
#: Statuses of items still waiting to be performed (they expire).
WAITING_STATUSES = ("SCHEDULED", "ARRIVED", "READY")
#: MPPS states (PS3.3 C.4.14): one under way, and the final ones.
MPPS_IN_PROGRESS = "IN PROGRESS"
MPPS_FINAL = ("COMPLETED", "DISCONTINUED")
#: The PostgreSQL advisory lock key of a pass (any 64-bit number other software on the database does not use).
LOCK_KEY = zlib.crc32(b"pylantir.housekeeping")

ITEMS = cast(Table, WorklistItem.__table__)
MPPS = cast(Table, PerformedProcedureStep.__table__)
RUNS = cast(Table, SyncRun.__table__)
REJECTED = cast(Table, RejectedRow.__table__)
RECORDS = cast(Table, RemovedEntry.__table__)
CHANGES = cast(Table, WriteBackChange.__table__)
#: Write-back change states that end a change and that housekeeping removes (failed ones wait for a person).
ENDED_CHANGES = (outbox.DONE, outbox.SUPERSEDED)
#: The MPPS instances of an item, as seen from inside a statement that may itself delete MPPS instances.
LINKED = MPPS.alias("linked_mpps")


@dataclass
class PruneReport:
    """What one pass removed (or, dry, would remove)."""

    finished_items: int = 0
    expired_items: int = 0
    mpps_instances: int = 0
    rejected_rows: int = 0
    sync_runs: int = 0
    write_back_changes: int = 0
    removed_entry_records: int = 0
    dry_run: bool = False
    #: Why the pass did nothing (another instance held the lock).
    skipped: str | None = None
    seconds: float = field(default=0.0, compare=False)

    def counts(self) -> dict[str, int]:
        """The counts by what they count (``"finished items"``, ``"MPPS instances"``...), in display order."""
        return {f.name.replace("_", " ").replace("mpps", "MPPS"): getattr(self, f.name)
                for f in fields(self) if f.type == "int"}

    def summary(self) -> str:
        """One log line: the counts, no values."""
        if self.skipped:
            return f"housekeeping skipped: {self.skipped}"
        verb = "would remove" if self.dry_run else "removed"
        counts = ", ".join(f"{value} {what}" for what, value in self.counts().items())
        return f"housekeeping {verb} {counts} in {self.seconds:.2f} s"


class _Cutoffs:
    """The moments and dates before which each rule removes rows, at ``now``."""

    def __init__(self, settings: Housekeeping, site_timezone: str, now: datetime):
        today = site_today(site_timezone, now)

        def ago(days: int | None) -> datetime | None:
            return None if days is None else now - timedelta(days=days)

        def start_of(days: int | None) -> str | None:
            return None if days is None else f"{today - timedelta(days=days):%Y%m%d}000000"

        self.finished = ago(settings.finished_items_days)
        self.expired = start_of(settings.expired_items_days)
        self.runs = ago(settings.sync_runs_days)
        self.changes = ago(settings.write_back_days)
        # a run's rejected rows go before the run does, so that no run deletion cascades over many rows
        rejected = [moment for moment in (ago(settings.rejected_rows_days), self.runs) if moment is not None]
        self.rejected = max(rejected) if rejected else None
        # no sync accepts an entry scheduled before this (the quality gate): its record can go
        self.records = f"{today - timedelta(days=SCHEDULED_DAYS_BEFORE):%Y%m%d}000000"


def _mpps_of_item(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    """The item has an MPPS instance meeting ``conditions``."""
    return select(LINKED.c.sop_instance_uid).where(LINKED.c.worklist_item_id == ITEMS.c.id, *conditions) \
        .correlate(ITEMS).exists()


def _finished_items(cut: _Cutoffs) -> ColumnElement[bool] | None:
    if cut.finished is None:
        return None
    return and_(ITEMS.c[STATUS].in_(FINISHED_STATUSES), ITEMS.c.updated_at < cut.finished,
                ~_mpps_of_item(or_(LINKED.c.status == MPPS_IN_PROGRESS, LINKED.c.updated_at >= cut.finished)))


def _expired_items(cut: _Cutoffs) -> ColumnElement[bool] | None:
    if cut.expired is None:
        return None
    return and_(ITEMS.c[STATUS].in_(WAITING_STATUSES), ITEMS.c.scheduled_start < cut.expired,
                ~_mpps_of_item(LINKED.c.status == MPPS_IN_PROGRESS))


def _orphan_mpps(cut: _Cutoffs) -> ColumnElement[bool] | None:
    if cut.finished is None:
        return None
    return and_(MPPS.c.worklist_item_id.is_(None), MPPS.c.status.in_(MPPS_FINAL), MPPS.c.updated_at < cut.finished)


def _ended_runs(before: datetime) -> Any:
    return select(SyncRun.id).where(SyncRun.finished_at < before)


def _rejected_rows(cut: _Cutoffs) -> ColumnElement[bool] | None:
    if cut.rejected is None:
        return None
    return RejectedRow.sync_run_id.in_(_ended_runs(cut.rejected))


def _sync_runs(cut: _Cutoffs) -> ColumnElement[bool] | None:
    if cut.runs is None:
        return None
    latest = select(func.max(SyncRun.id)).group_by(SyncRun.source_name)
    return and_(SyncRun.finished_at < cut.runs, SyncRun.id.not_in(latest))


def _ended_changes(cut: _Cutoffs) -> ColumnElement[bool] | None:
    if cut.changes is None:
        return None
    return and_(CHANGES.c.state.in_(ENDED_CHANGES), CHANGES.c.finished_at < cut.changes)


def _old_records(cut: _Cutoffs) -> ColumnElement[bool]:
    return RemovedEntry.scheduled_start < cut.records


def _deleted(result: Any) -> int:
    """The rows a DELETE removed."""
    return int(cast(CursorResult[Any], result).rowcount)


class Pruner:
    """One housekeeping pass over ``database`` (:meth:`run`); ``stop`` ends it between batches."""

    def __init__(self, database: Database, config: PylantirConfig, stop: threading.Event | None = None):
        self.database = database
        self.settings = config.housekeeping
        self.timezone = config.timezone
        self.stop = stop or threading.Event()

    def run(self, now: datetime, *, dry_run: bool = False) -> PruneReport:
        """Apply every rule at ``now`` (aware); with ``dry_run`` only count what would go."""
        started = time.perf_counter()
        report = PruneReport(dry_run=dry_run)
        cut = _Cutoffs(self.settings, self.timezone, now)
        with self._exclusive() as holder:
            if holder is None:
                report.skipped = "another instance is pruning this database"
                return report
            report.finished_items = self._items(_finished_items(cut), now, report, dry_run)
            report.expired_items = self._items(_expired_items(cut), now, report, dry_run)
            report.mpps_instances += self._rows(MPPS, MPPS.c.sop_instance_uid, _orphan_mpps(cut), dry_run)
            report.rejected_rows = self._rows(REJECTED, REJECTED.c.id, _rejected_rows(cut), dry_run)
            report.sync_runs = self._rows(RUNS, RUNS.c.id, _sync_runs(cut), dry_run)
            report.write_back_changes = self._rows(CHANGES, CHANGES.c.id, _ended_changes(cut), dry_run)
            report.removed_entry_records = self._rows(RECORDS, RECORDS.c.identity_digest, _old_records(cut), dry_run)
        report.seconds = time.perf_counter() - started
        return report

    @contextmanager
    def _exclusive(self) -> Iterator[object | None]:
        """On PostgreSQL, a transaction holding the pass's advisory lock (``None`` when another has it)."""
        if self.database.engine.dialect.name != "postgresql":
            yield self
            return
        with self.database.engine.connect() as connection, connection.begin():
            taken = connection.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
            yield connection if taken else None

    def _batches(self, id_column: Any, condition: ColumnElement[bool]) -> Iterator[list[Any]]:
        """The ids matching ``condition``, ``batch_size`` at a time, in id order (each read on its own)."""
        last = None
        while not self.stop.is_set():
            query = select(id_column).where(condition).order_by(id_column).limit(self.settings.batch_size)
            if last is not None:
                query = query.where(id_column > last)
            with self.database.session() as session:
                ids = list(session.scalars(query))
            if not ids:
                return
            yield ids
            last = ids[-1]

    def _count(self, table: Table, condition: ColumnElement[bool]) -> int:
        with self.database.session() as session:
            return int(session.scalar(select(func.count()).select_from(table).where(condition)) or 0)

    def _rows(self, table: Table, id_column: Any, condition: ColumnElement[bool] | None, dry_run: bool) -> int:
        """Delete the rows of ``table`` matching ``condition``, batch by batch; their count."""
        if condition is None:
            return 0
        if dry_run:
            return self._count(table, condition)
        removed = 0
        for ids in self._batches(id_column, condition):
            with self.database.session() as session:
                removed += _deleted(session.execute(delete(table).where(id_column.in_(ids), condition)))
        return removed

    def _items(self, condition: ColumnElement[bool] | None, now: datetime, report: PruneReport,
               dry_run: bool) -> int:
        """Delete the worklist items matching ``condition`` with their MPPS instances (final ones: no rule takes
        an item with one IN PROGRESS), and record them."""
        if condition is None:
            return 0
        if dry_run:
            report.mpps_instances += self._count(MPPS, MPPS.c.worklist_item_id.in_(select(ITEMS.c.id).where(condition)))
            return self._count(ITEMS, condition)
        removed = 0
        for ids in self._batches(ITEMS.c.id, condition):
            with self.database.session() as session:
                # a write first: SQLite takes its write lock before this transaction reads anything
                chosen = select(ITEMS.c.id).where(ITEMS.c.id.in_(ids), condition)
                linked = delete(MPPS).where(MPPS.c.worklist_item_id.in_(chosen))
                report.mpps_instances += _deleted(session.execute(linked))
                gone = session.execute(
                    delete(ITEMS).where(ITEMS.c.id.in_(ids), condition)
                    .returning(ITEMS.c.identity, ITEMS.c.source_name, ITEMS.c.scheduled_start)
                ).all()
                record_removed(session, [(row.identity, row.source_name, row.scheduled_start) for row in gone], now)
                removed += len(gone)
        return removed


class HousekeepingService:
    """``pylantir run``'s housekeeping: a pass every ``housekeeping.interval_minutes``, the first one an
    interval after :meth:`start`, in a thread of its own; a failed pass is logged and retried next time."""

    def __init__(self, database: Database, config: PylantirConfig, clock: Clock | None = None):
        self.clock = clock or SystemClock()
        self.interval = config.housekeeping.interval_minutes * 60
        self._stop = threading.Event()
        self._pruner = Pruner(database, config, self._stop)
        self._thread = threading.Thread(target=self._loop, name="pylantir-housekeeping", daemon=True)
        #: Called with the report of every pass (tests wait on it).
        self.on_pass: Callable[[PruneReport], None] | None = None

    def start(self) -> None:
        """Start the schedule."""
        log.info("housekeeping: a pass every %g minutes", self.interval / 60)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the batch in progress; wait up to ``timeout`` s."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                report = self._pruner.run(self.clock.now())
            except SQLAlchemyError as exc:
                log.warning("housekeeping pass failed (%s); the next one is in %g minutes",
                            type(exc).__name__, self.interval / 60)
                log.debug("housekeeping pass failure", exc_info=exc)
                continue
            log.info(report.summary())
            if self.on_pass is not None:
                self.on_pass(report)
