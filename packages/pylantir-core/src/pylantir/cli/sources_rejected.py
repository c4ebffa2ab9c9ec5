"""``pylantir sources rejected``: the rows a sync rejected, with where they are and why, from the database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pylantir.cli.context import config_option, configured_source, load_config_or_exit
from pylantir.cli.database import open_database
from pylantir.cli.output import print_table

if TYPE_CHECKING:  # the engine is imported when the command runs, so that `pylantir --help` stays fast
    from pylantir.store import Database


@click.command("rejected")
@config_option
@click.argument("source", required=False)
@click.option("--run", "run_id", type=click.IntRange(min=1), metavar="N",
              help="The sync run N (its number in `sources status --json` and the log) instead of the last.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def sources_rejected(config_path: Path, source: str | None, run_id: int | None, as_json: bool) -> None:
    """Show the rows the last sync of each source (or of SOURCE, or sync run N) rejected.

    Per row: the source, the run, the location (file and line, or record), the field and the reason. Reasons
    never quote patient data. Reads the database only.
    """
    config = load_config_or_exit(config_path)
    names = [s.name for s in config.data_sources]
    if source is not None:
        configured_source(config_path, config, source)
    database = open_database(config, "current")
    try:
        runs = rejected_rows(database, [source] if source else names, run_id)
    finally:
        database.close()
    if run_id is not None and not runs:
        raise click.ClickException(f"no sync run {run_id}" + (f" of source '{source}'" if source else ""))
    if as_json:
        click.echo(json.dumps(runs, indent=2))
        return
    for run in runs:
        click.echo(f"source {run['source']}, run {run['run']} ({run['outcome']}, started {run['started_at']}): "
                   f"{len(run['rejected'])} rejected")
    print_table(["source", "run", "location", "field", "reason"],
                [[run["source"], run["run"], row["location"], row["field"], row["reason"]]
                 for run in runs for row in run["rejected"]],
                empty="No rejected rows." if runs else "No sync has run yet.")


def rejected_rows(database: Database, sources: list[str], run_id: int | None) -> list[dict[str, Any]]:
    """One JSON-ready entry per run: the run ``run_id`` (if of one of ``sources``), else each source's latest."""
    from sqlalchemy import func, select

    from pylantir.store import RejectedRow, SyncRun
    from pylantir.sync.clock import as_utc

    with database.session() as session:
        if run_id is not None:
            chosen = select(SyncRun).where(SyncRun.id == run_id, SyncRun.source_name.in_(sources))
        else:
            latest = select(func.max(SyncRun.id)).where(SyncRun.source_name.in_(sources)).group_by(SyncRun.source_name)
            chosen = select(SyncRun).where(SyncRun.id.in_(latest))
        runs = sorted(session.scalars(chosen), key=lambda run: sources.index(run.source_name))
        rows = session.execute(
            select(RejectedRow.sync_run_id, RejectedRow.location, RejectedRow.field, RejectedRow.reason)
            .where(RejectedRow.sync_run_id.in_([run.id for run in runs]))
            .order_by(RejectedRow.id)
        ).all()
    by_run: dict[int, list[dict[str, str | None]]] = {run.id: [] for run in runs}
    for run_of, location, field, reason in rows:
        by_run[run_of].append({"location": location, "field": field, "reason": reason})
    return [{"source": run.source_name, "run": run.id, "outcome": run.outcome,
             "started_at": as_utc(run.started_at).isoformat(timespec="seconds"), "rejected": by_run[run.id]}
            for run in runs]
