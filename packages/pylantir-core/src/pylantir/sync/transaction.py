"""The write transaction of a sync: the spooled rows, removals, rejections, the run and the source state,
committed together or not at all (in the database's one writing thread, so concurrent syncs take turns)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from pylantir.config import DataSourceSettings
from pylantir.store import Database, SourceState, SyncRun
from pylantir.store.bulk import write_cache
from pylantir.sync.fetch import Fetched
from pylantir.sync.lineage import finish_run, store_rejections
from pylantir.sync.pump import POLL_SECONDS, SyncStopped
from pylantir.sync.result import SyncResult
from pylantir.sync.spool import Spool
from pylantir.sync.writer import Writer


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


def commit(job: WriteJob) -> None:
    """Write the job in the database's writing thread and wait; abandon it on cancel while it waits its turn."""
    written = job.database.submit_write(_write, job)
    while True:
        try:
            return written.result(timeout=POLL_SECONDS)
        except FutureTimeout:
            # once it runs, the write checks for cancellation itself (between batches)
            if job.cancel.is_set() and written.cancel():
                raise SyncStopped("abandoned", "stopped while waiting to write") from None


def _write(job: WriteJob) -> None:
    source, result, fetched = job.source, job.result, job.fetched
    with job.database.session() as session:
        # A write first, so that SQLite takes its write lock before any read of this transaction.
        session.execute(update(SyncRun).where(SyncRun.id == result.run_id).values(outcome="writing"))
        if job.fence is not None:
            job.fence(session)
        if not fetched.state.unchanged:
            writer = Writer(session, source.name, job.ranks, job.now, result.run_id, result)
            with write_cache(session):
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
        result.duration = time.monotonic() - job.started
        finish_run(session, result, job.now)
        state = session.get(SourceState, source.name)
        assert state is not None, "begin_run stored the source's state"
        state.last_success_at, state.consecutive_failures = job.now, 0
        state.plugin_state = dict(fetched.state.saved)
