"""The bookkeeping of sync runs: who runs them, how they end, what they rejected, and runs whose process died.

Every sync is a :class:`~pylantir.store.SyncRun` naming the process that runs it (host, PID, process start
time). Its end is stored with the sync's own commit (:func:`finish_run`), or in a transaction of its own when
the sync failed (:func:`record_failure`). A process killed mid-sync leaves its run ``running``:
:func:`close_interrupted_runs` (at the start of ``pylantir run`` and ``pylantir sync``) closes the runs of
processes of this host that no longer exist as ``interrupted``; a live process's run is never closed, and
the process start time tells a reused PID from the process that started the run. Runs of other hosts are
left alone (their processes cannot be looked at from here).
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, cast

import psutil  # type: ignore[import-untyped]
from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from pylantir.config import DataSourceSettings
from pylantir.store import Database, RejectedRow, SourceState, SyncRun
from pylantir.store.bulk import insert_if_missing
from pylantir.sync.clock import as_utc
from pylantir.sync.result import SyncResult
from pylantir.sync.rows import Rejection

log = logging.getLogger(__name__)

STATES = cast(Table, SourceState.__table__)
#: Outcomes of a run that has not ended (yet).
OPEN_OUTCOMES = ("running", "writing")
INTERRUPTED = "interrupted"
#: Process start times read back from the database may lose sub-second precision.
START_TOLERANCE = timedelta(seconds=1)


def instance_name(pid: int | None, host: str | None) -> str:
    """``pid N on HOST``: how a Pylantir process is named wherever one is shown (a sync's runner, a source's
    leader, ``/ready``'s instance)."""
    return f"pid {pid} on {host}"


@dataclass(frozen=True)
class Runner:
    """The process that runs a sync."""

    host: str
    pid: int
    started_at: datetime


def runner_of(pid: int) -> Runner:
    """The process ``pid`` of this host (its start time from the operating system)."""
    started = datetime.fromtimestamp(psutil.Process(pid).create_time(), UTC)
    return Runner(socket.gethostname(), pid, started)


@cache
def this_process() -> Runner:
    """This process."""
    return runner_of(os.getpid())


def is_orphaned(run: SyncRun) -> bool:
    """Whether an open run's process, on this host, no longer exists (another host's: never known)."""
    if run.outcome not in OPEN_OUTCOMES or run.host != this_process().host or run.pid is None:
        return False
    try:
        started = datetime.fromtimestamp(psutil.Process(run.pid).create_time(), UTC)
    except psutil.NoSuchProcess:
        return True
    except psutil.AccessDenied:  # a process we may not look at exists
        return False
    return run.process_started_at is not None and abs(started - as_utc(run.process_started_at)) > START_TOLERANCE


def close_interrupted_runs(database: Database, restarted: Runner | None = None) -> int:
    """Close the open runs of dead processes of this host as ``interrupted``; return how many.

    ``restarted``: an instance whose sync worker starts anew (``pylantir run``'s): its open runs are those of
    the worker that died before this one, closed too.
    """
    with database.session() as session:
        runs = session.scalars(
            select(SyncRun).where(SyncRun.outcome.in_(OPEN_OUTCOMES), SyncRun.host == this_process().host)
        ).all()
        orphans = [run for run in runs if is_orphaned(run) or _same_process(run, restarted)]
        for run in orphans:
            process = "the sync worker process of" if _same_process(run, restarted) else "the process"
            run.outcome = INTERRUPTED
            run.error = f"{process} {instance_name(run.pid, run.host)} ended before the sync finished"
            log.warning("source '%s': sync run %d was interrupted (%s pid %d ended); closed",
                        run.source_name, run.id, process, run.pid)
    return len(orphans)


def _same_process(run: SyncRun, runner: Runner | None) -> bool:
    """Whether ``run`` was recorded for ``runner`` (its PID, host and start time)."""
    return (runner is not None and run.pid == runner.pid and run.host == runner.host
            and run.process_started_at is not None
            and abs(as_utc(run.process_started_at) - runner.started_at) <= START_TOLERANCE)


def close_previous_leaders_runs(database: Database, source_names: set[str], instance: Runner | None = None
                                ) -> set[str]:
    """Close as ``interrupted`` the open runs of sources this instance has just come to lead; the sources.

    Holding a source's leadership means its previous leader is gone (its session ended), so its open run
    will never end; runs of this host whose process is still alive (a ``pylantir sync``) are left open.
    ``instance``: the one leading now (default: this process).
    """
    me = instance or this_process()
    with database.session() as session:
        runs = session.scalars(select(SyncRun).where(
            SyncRun.source_name.in_(source_names), SyncRun.outcome.in_(OPEN_OUTCOMES),
        )).all()
        closed = [run for run in runs if run.host != me.host or (run.pid != me.pid and is_orphaned(run))]
        for run in closed:
            run.outcome = INTERRUPTED
            run.error = (f"the instance that led the source ({instance_name(run.pid, run.host)}) stopped before "
                         "the sync finished")
            log.warning("source '%s': sync run %d was interrupted (the instance that led it, pid %s on %s, "
                        "stopped); syncing it now", run.source_name, run.id, run.pid, run.host)
    return {run.source_name for run in closed}


def begin_run(
    database: Database, source: DataSourceSettings, now: datetime, runner: Runner | None = None
) -> tuple[int, dict[str, Any], datetime | None]:
    """Record the attempt by ``runner`` (default: this process); return the run id and what the last
    successful sync saved (state, time)."""
    runner = runner or this_process()
    with database.session() as session:
        # two instances starting at once both find no state: insert it unless the other one did
        insert_if_missing(session, STATES, {"source_name": source.name, "consecutive_failures": 0}, "source_name")
        state = session.get(SourceState, source.name)
        assert state is not None
        state.last_attempt_at = now
        run = SyncRun(
            source_name=source.name, source_type=source.type, started_at=now, outcome="running",
            host=runner.host, pid=runner.pid, process_started_at=runner.started_at,
        )
        session.add(run)
        session.flush()
        last_success = as_utc(state.last_success_at) if state.last_success_at else None
        return run.id, dict(state.plugin_state or {}), last_success


def finished_at(started_at: datetime, result: SyncResult) -> datetime:
    """The run's end on the sync's clock: its start plus the time it took."""
    return started_at + timedelta(seconds=result.duration)


def finish_run(session: Session, result: SyncResult, started_at: datetime) -> None:
    """Store a committed run's outcome, counts, warnings and end (in the sync's own transaction)."""
    session.execute(
        update(SyncRun).where(SyncRun.id == result.run_id).values(
            outcome=result.outcome, finished_at=finished_at(started_at, result),
            error="; ".join(result.warnings) or None, **result.counts(),
        )
    )


def record_failure(database: Database, source: DataSourceSettings, result: SyncResult, started_at: datetime) -> None:
    """Store a failed run and count the failure (in its own transaction; the sync's was rolled back)."""
    try:
        with database.session() as session:
            if result.run_id is not None:
                session.execute(
                    update(SyncRun).where(SyncRun.id == result.run_id).values(
                        outcome=result.outcome, finished_at=finished_at(started_at, result), error=result.error,
                        **result.counts(),
                    )
                )
            state = session.get(SourceState, source.name)
            if state is not None:
                state.consecutive_failures += 1
    except Exception as exc:  # noqa: BLE001 - the database itself may be what failed
        log.error("source '%s': could not record the failed sync: %s: %s", source.name, type(exc).__name__, exc)
        log.debug("the failure to record the sync", exc_info=True)


def store_rejections(session: Session, source_name: str, run_id: int, rejections: list[Rejection]) -> None:
    """Store the run's rejected rows; log those the source's previous committed run did not reject.

    A source that keeps a bad row is logged about once per change (its rows stay in the database for
    ``sources status`` and the API), not on every interval.
    """
    reasons = [f"source '{source_name}', {rejection.location}: {rejection.reason}" for rejection in rejections]
    log_rejections(session, source_name, run_id, reasons)
    if rejections:
        session.execute(
            insert(RejectedRow),
            [
                {"sync_run_id": run_id, "location": rejection.location[:128],
                 "field": rejection.field[:64] if rejection.field else None, "reason": reason}
                for rejection, reason in zip(rejections, reasons, strict=True)
            ],
        )


def log_rejections(session: Session, source_name: str, run_id: int, reasons: list[str]) -> None:
    """Log each of a run's rejection ``reasons`` that the source's previous committed run did not give (a
    WARNING each), and how many it did give again (one INFO line)."""
    before = _previous_rejections(session, source_name, run_id)
    repeated = 0
    for reason in reasons:
        if reason in before:
            repeated += 1
        else:
            log.warning("%s rejected", reason)
    if repeated:
        log.info("source '%s': %d row(s) rejected as in the previous sync (not logged again)", source_name, repeated)


def _previous_rejections(session: Session, source_name: str, run_id: int) -> set[str]:
    previous = select(SyncRun.id).where(
        SyncRun.source_name == source_name, SyncRun.outcome == "success", SyncRun.id < run_id
    ).order_by(SyncRun.id.desc()).limit(1).scalar_subquery()
    return set(session.scalars(select(RejectedRow.reason).where(RejectedRow.sync_run_id == previous)))


def log_summary(source: DataSourceSettings, result: SyncResult) -> None:
    """One line per sync: outcome, counts, duration (and the error when it failed)."""
    counts = " ".join(f"{name}={value}" for name, value in result.counts().items())
    message = f"sync of source '{source.name}' ({source.type}): {result.outcome}, {counts}"
    if result.conflicts:
        message += f" conflicts={result.conflicts}"
    if result.already_removed:
        message += f" already_removed={result.already_removed}"
    message += f" in {result.duration:.2f} s"
    if result.ok:
        log.info(message)
    else:
        log.warning("%s: %s", message, result.error)
