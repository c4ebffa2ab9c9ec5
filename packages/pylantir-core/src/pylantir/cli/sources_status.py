"""``pylantir sources status``: each configured source's sync health, from the database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pylantir.cli.context import config_option, load_config_or_exit
from pylantir.cli.database import open_database
from pylantir.cli.output import print_table

if TYPE_CHECKING:  # the engine is imported when the command runs, so that `pylantir --help` stays fast
    from pylantir.config import PylantirConfig
    from pylantir.store import Database


@click.command("status")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def sources_status(config_path: Path, as_json: bool) -> None:
    """Show each configured data source's last sync, outcome, counts, failures, next due time and leader,
    and for a source with write_back its performed-step changes waiting to be written back and those that
    failed.

    The leader is the ``pylantir run`` instance (PID and host) that syncs the source now: one per source
    among the instances sharing a PostgreSQL database, the one instance on a SQLite file.

    A sync whose process ended before it finished (killed, host restarted) shows as ``interrupted``; the
    next ``pylantir run`` or ``pylantir sync`` on this host closes it so. The latest failed write-back is
    printed below the table.
    """
    from pylantir.sync.result import COUNTS

    config = load_config_or_exit(config_path)
    database = open_database(config, "current")
    try:
        statuses = source_statuses(config, database)
    finally:
        database.close()
    if as_json:
        click.echo(json.dumps(statuses, indent=2))
        return
    print_table(
        ["source", "type", "enabled", "last sync", "outcome", *COUNTS, "failures", "degraded", "next due",
         "leader", "write-back"],
        [[s["name"], s["type"], _yes(s["enabled"]), s["last_sync"] or "never", s["outcome"] or "-",
          *(s["counts"].get(c, "-") for c in COUNTS), s["consecutive_failures"], _yes(s["degraded"]),
          s["next_due"] or "-", s["leader"] or "-", _write_back(s["write_back"])] for s in statuses],
        empty="No data source configured.",
    )
    for status in statuses:
        if status["write_back"] and status["write_back"]["last_failure"]:
            click.echo(f"source {status['name']}: write-back failed for good at "
                       f"{status['write_back']['last_failure_at']}: {status['write_back']['last_failure']}")


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _write_back(counts: dict[str, Any] | None) -> str:
    if counts is None:
        return "-"
    return f"{counts['pending']} pending, {counts['failed']} failed, {counts['done']} written"


def source_statuses(config: PylantirConfig, database: Database) -> list[dict[str, Any]]:
    """One JSON-ready status per configured source, in config order."""
    from sqlalchemy import func, select

    from pylantir.store import SyncRun
    from pylantir.sync.clock import SystemClock, as_utc
    from pylantir.sync.leadership import source_leaders
    from pylantir.sync.lineage import INTERRUPTED, is_orphaned
    from pylantir.sync.result import COUNTS
    from pylantir.sync.scheduler import SourceHealth, next_due
    from pylantir.sync.service import load_health
    from pylantir.writeback.outbox import write_back_counts

    names = [source.name for source in config.data_sources]
    health = load_health(database, names)
    outboxes = write_back_counts(database, [source.name for source in config.data_sources if source.write_back])
    with database.session() as session:
        latest = select(func.max(SyncRun.id)).where(SyncRun.source_name.in_(names)).group_by(SyncRun.source_name)
        runs = {run.source_name: run for run in session.scalars(select(SyncRun).where(SyncRun.id.in_(latest)))}
        orphaned = {name for name, run in runs.items() if is_orphaned(run)}
    leaders = source_leaders(database, names)
    now = SystemClock().now()
    statuses = []
    for source in config.data_sources:
        state = health.get(source.name, SourceHealth())
        run = runs.get(source.name)
        due = next_due(source, state, now, config.timezone) if source.enabled else None
        statuses.append({
            "name": source.name,
            "type": source.type,
            "enabled": source.enabled,
            "last_sync": as_utc(run.started_at).isoformat(timespec="seconds") if run else None,
            "outcome": (INTERRUPTED if source.name in orphaned else run.outcome) if run else None,
            "error": run.error if run else None,
            "finished": as_utc(run.finished_at).isoformat(timespec="seconds") if run and run.finished_at else None,
            "seconds": round((run.finished_at - run.started_at).total_seconds(), 2)
            if run and run.finished_at else None,
            "runner": f"pid {run.pid} on {run.host}" if run and run.host else None,
            "counts": {name: getattr(run, name) for name in COUNTS} if run else {},
            "consecutive_failures": state.consecutive_failures,
            "degraded": state.degraded,
            "next_due": due.isoformat(timespec="seconds") if due else None,
            "leader": leaders[source.name].describe() if source.name in leaders else None,
            "write_back": outboxes[source.name].as_json() if source.name in outboxes else None,
        })
    return statuses
