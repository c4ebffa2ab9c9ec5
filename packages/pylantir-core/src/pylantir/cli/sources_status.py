"""``pylantir sources status``: each configured source's sync health, from the database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from pylantir.cli.context import config_option, load_config_or_exit
from pylantir.cli.database import open_database
from pylantir.cli.output import print_table


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
    from pylantir.sync.status import source_statuses

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
