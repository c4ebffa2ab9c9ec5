"""The write transaction of a sync: the spooled rows, removals, rejections, the run, the source state and the
proof for the next sync (:mod:`pylantir.sync.unchanged`), committed together or not at all (in the database's
one writing thread, so concurrent syncs take turns); or, when that proof holds, the run without a fetch."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import update
from sqlalchemy.orm import Session

from pylantir.config import DataSourceSettings
from pylantir.store import Database, SourceState, SyncRun
from pylantir.store.bulk import indexes_built_after, write_cache
from pylantir.sync.fetch import Fetched
from pylantir.sync.lineage import finish_run, store_rejections
from pylantir.sync.pump import POLL_SECONDS, SyncStopped
from pylantir.sync.result import SyncResult
from pylantir.sync.spool import Spool
from pylantir.sync.unchanged import commit_unchanged, store_proof
from pylantir.sync.writer import TABLE, Writer

T = TypeVar("T")


@dataclass
class WriteJob:
    """Everything one write transaction needs."""

    database: Database
    source: DataSourceSettings
    ranks: Mapping[str, int]
    now: datetime
    cancel: threading.Event
    result: SyncResult
    fetched: Fetched
    spool: Spool
    started: float  # time.monotonic() when the sync started, for the run's duration
    #: Raises :class:`SyncStopped` inside the transaction when this instance no longer leads the source.
    fence: Callable[[Session], None] | None = None
    #: The source's content key (:func:`pylantir.sync.unchanged.content_key`), stored with a clean complete
    #: fetch's proof; ``None``: no proof.
    key: str | None = None


@dataclass
class UnchangedJob:
    """What the write transaction of a sync that may not need its fetch needs (:mod:`pylantir.sync.unchanged`)."""

    database: Database
    source: DataSourceSettings
    key: str  # the source's content key
    now: datetime
    cancel: threading.Event
    result: SyncResult
    started: float
    fence: Callable[[Session], None] | None = None


class _NotUnchanged(Exception):
    """The proof does not hold: roll the transaction back and fetch."""


def commit(job: WriteJob) -> None:
    """Write the job in the database's writing thread and wait; abandon it on cancel while it waits its turn."""
    _wait(job.database.submit_write(_write, job), job.cancel)


def commit_if_unchanged(job: UnchangedJob) -> bool:
    """Record the run without a fetch when the source's stored proof holds (in the writing thread, like
    :func:`commit`); False, with nothing written, when it does not."""
    return _wait(job.database.submit_write(_write_unchanged, job), job.cancel)


def _wait(written: Future[T], cancel: threading.Event) -> T:
    while True:
        try:
            return written.result(timeout=POLL_SECONDS)
        except FutureTimeout:
            # once it runs, the write checks for cancellation itself (between batches)
            if cancel.is_set() and written.cancel():
                raise SyncStopped("abandoned", "stopped while waiting to write") from None


def _begin(session: Session, run_id: int | None, fence: Callable[[Session], None] | None) -> None:
    # A write first, so that SQLite takes its write lock before any read of this transaction.
    session.execute(update(SyncRun).where(SyncRun.id == run_id).values(outcome="writing"))
    if fence is not None:
        fence(session)


def _succeed(session: Session, source: DataSourceSettings, result: SyncResult, now: datetime,
             started: float) -> SourceState:
    """The run's end and the source's state, in the sync's transaction; the state."""
    result.duration = time.monotonic() - started
    finish_run(session, result, now)
    state = session.get(SourceState, source.name)
    assert state is not None, "begin_run stored the source's state"
    state.last_success_at, state.consecutive_failures = now, 0
    return state


def _write_unchanged(job: UnchangedJob) -> bool:
    try:
        with job.database.session() as session:
            _begin(session, job.result.run_id, job.fence)
            if not commit_unchanged(session, job.source.name, job.key, job.result):
                raise _NotUnchanged
            _succeed(session, job.source, job.result, job.now, job.started)
    except _NotUnchanged:
        return False
    return True


def _write(job: WriteJob) -> None:
    source, result, fetched = job.source, job.result, job.fetched
    with job.database.session() as session:
        _begin(session, result.run_id, job.fence)
        if not fetched.state.unchanged:
            writer = Writer(session, source.name, job.ranks, job.now, result.run_id, result)
            with write_cache(session), indexes_built_after(session, TABLE):
                for batch in job.spool.batches():
                    if job.cancel.is_set():
                        raise SyncStopped("abandoned", "stopped before the sync committed")
                    writer.write_batch(batch)
            # When every row the source owned was seen unchanged, there is nothing to remove.
            if fetched.state.complete and fetched.unchanged < len(fetched.known):
                warning = writer.remove_missing(fetched.seen, source.removal_guard_fraction)
                result.warnings.extend([warning] if warning else [])
        result.outcome = "unchanged" if fetched.state.unchanged else "success"
        result.rejected = len(fetched.rejections)
        result.unchanged += fetched.unchanged
        assert result.run_id is not None
        store_rejections(session, source.name, result.run_id, fetched.rejections)
        if not fetched.state.unchanged:  # (an unchanged fetch leaves the proof of the sync it repeats)
            store_proof(session, source.name, job.key if fetched.state.complete else None, result)
        state = _succeed(session, source, result, job.now, job.started)
        state.plugin_state = dict(fetched.state.saved)
