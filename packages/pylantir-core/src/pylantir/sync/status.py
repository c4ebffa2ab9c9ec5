"""Each configured source's health, from the database: what ``pylantir sources status``, the HTTP API's
``/api/v1/sources`` and ``/ready`` show.

Staleness: an enabled source is stale when it has not synced successfully within :data:`STALE_INTERVALS` of
its intervals, counted from its last success (or from ``since``, when the watching process started, for a
source that never synced), while its operation window was open (a source whose window is closed at night
is not stale for it).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from pylantir.config import DataSourceSettings, PylantirConfig
from pylantir.store import Database, SourceState, SyncRun
from pylantir.sync.clock import SystemClock, as_utc
from pylantir.sync.leadership import Leader, LeadershipView, source_leaders
from pylantir.sync.lineage import INTERRUPTED, instance_name, is_orphaned, this_process
from pylantir.sync.result import COUNTS, OK_OUTCOMES
from pylantir.sync.scheduler import SourceHealth, in_window, next_due
from pylantir.writeback.outbox import WriteBackCounts, write_back_counts

STALE_INTERVALS = 3


def _iso(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat(timespec="seconds") if moment else None


def staleness(source: DataSourceSettings, last_success: datetime | None, since: datetime, now: datetime,
              timezone: str) -> str | None:
    """Why ``source`` is stale at ``now`` (one sentence), or ``None`` when it is not."""
    allowed = timedelta(seconds=STALE_INTERVALS * source.sync_interval)
    if not source.enabled or now - (last_success or since) <= allowed:
        return None
    zone = ZoneInfo(timezone)
    window = source.operation_interval
    if not (in_window(window, (now - allowed).astimezone(zone)) and in_window(window, now.astimezone(zone))):
        return None
    when = f"last success {_iso(last_success)}" if last_success else "never synced"
    return (f"source '{source.name}' has not synced successfully within {STALE_INTERVALS} intervals "
            f"({STALE_INTERVALS * source.sync_interval:g} s; {when})")


def leadership_json(leader: Leader | None, source_name: str, local: LeadershipView | None) -> dict[str, Any] | None:
    """Who leads a source's sync, JSON-ready: the instance (PID, host), whether it is this process, and since
    when it leads (known to the leader itself only: ``local`` is this process's leadership, if it syncs)."""
    if leader is None:
        return None
    me = this_process()
    here = leader.pid == me.pid and leader.host == me.host
    return {"instance": leader.describe(), "pid": leader.pid, "host": leader.host, "this_instance": here,
            "since": _iso(local.since(source_name)) if here and local is not None else None}


def outbox_json(counts: WriteBackCounts, now: datetime) -> dict[str, Any]:
    """A source's write-back counts, JSON-ready, with ``oldest_pending_seconds``: the oldest pending change's age."""
    oldest = counts.oldest_pending
    return {**counts.as_json(),
            "oldest_pending_seconds": round(max((now - oldest).total_seconds(), 0.0), 1) if oldest else None}


def source_statuses(config: PylantirConfig, database: Database, now: datetime | None = None,
                    since: datetime | None = None, leadership: LeadershipView | None = None) -> list[dict[str, Any]]:
    """One JSON-ready status per configured source, in config order: the latest run (outcome, counts,
    error), the last success and the last failure with its message, the circuit breaker, the next due time,
    staleness (judged from ``since`` for a source that never synced; default: ``now``), which instance leads
    its sync (``leadership``: this process's, which knows since when it leads) and, for a source with
    ``write_back``, its outbox (:func:`pylantir.writeback.outbox.write_back_counts`, with the age of the
    oldest pending change)."""
    now = now or SystemClock().now()
    names = [source.name for source in config.data_sources]
    with database.session() as session:
        latest = select(func.max(SyncRun.id)).where(SyncRun.source_name.in_(names)).group_by(SyncRun.source_name)
        runs = {run.source_name: run for run in session.scalars(select(SyncRun).where(SyncRun.id.in_(latest)))}
        orphaned = {name for name, run in runs.items() if is_orphaned(run)}
        failed_ids = (select(func.max(SyncRun.id)).where(SyncRun.source_name.in_(names),
                                                         SyncRun.outcome.not_in([*OK_OUTCOMES, "running", "writing"]))
                      .group_by(SyncRun.source_name))
        failures = {run.source_name: run for run in session.scalars(select(SyncRun).where(SyncRun.id.in_(failed_ids)))}
        states = {state.source_name: state
                  for state in session.scalars(select(SourceState).where(SourceState.source_name.in_(names)))}
    leaders = source_leaders(database, names)
    outboxes = write_back_counts(database, [source.name for source in config.data_sources if source.write_back])
    statuses = []
    for source in config.data_sources:
        state = states.get(source.name)
        health = SourceHealth(as_utc(state.last_attempt_at) if state and state.last_attempt_at else None,
                              state.consecutive_failures if state else 0)
        last_success = as_utc(state.last_success_at) if state and state.last_success_at else None
        run = runs.get(source.name)
        failure = failures.get(source.name)
        due = next_due(source, health, now, config.timezone) if source.enabled else None
        statuses.append({
            "name": source.name,
            "type": source.type,
            "enabled": source.enabled,
            "sync_interval": source.sync_interval,
            "last_sync": _iso(run.started_at) if run else None,
            "outcome": (INTERRUPTED if source.name in orphaned else run.outcome) if run else None,
            "error": run.error if run else None,
            "finished": _iso(run.finished_at) if run else None,
            "seconds": round((run.finished_at - run.started_at).total_seconds(), 2)
            if run and run.finished_at else None,
            "runner": instance_name(run.pid, run.host) if run and run.host else None,
            "counts": {name: getattr(run, name) for name in COUNTS} if run else {},
            "last_success": _iso(last_success),
            "last_failure": _iso(failure.started_at) if failure else None,
            "last_failure_outcome": failure.outcome if failure else None,
            "last_failure_error": failure.error if failure else None,
            "consecutive_failures": health.consecutive_failures,
            "degraded": health.degraded,
            "next_due": _iso(due),
            "stale": staleness(source, last_success, since or now, now, config.timezone),
            "leader": leaders[source.name].describe() if source.name in leaders else None,
            "leadership": leadership_json(leaders.get(source.name), source.name, leadership),
            "write_back": outbox_json(outboxes[source.name], now) if source.name in outboxes else None,
        })
    return statuses
