"""``pylantir write-back``: a source's performed-step changes waiting, written and failed; failed ones retried."""

from __future__ import annotations

import json
from pathlib import Path

import click

from pylantir.cli.context import cli_actor, config_option, configured_source, load_config_or_exit
from pylantir.cli.database import open_database
from pylantir.cli.output import print_table

STATES = ("pending", "failed", "done", "superseded")


@click.group("write-back")
def write_back_group() -> None:
    """Performed-step changes of sources with write_back: list them, retry the failed ones."""


@write_back_group.command("list")
@config_option
@click.argument("source")
@click.option("--state", "states", type=click.Choice(STATES), multiple=True,
              help="Only changes in this state (repeatable). Default: pending and failed.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="Newest N changes at most.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_changes(config_path: Path, source: str, states: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Show SOURCE's write-back changes, newest first: change number, entry, status, state, attempts, last error.

    The entry is named by its identity (Study Instance UID, accession number and step ID, or a key hash) and
    its place in the source, never by patient data. Reads the database only.
    """
    from pylantir.writeback.admin import list_changes as changes_of

    config = load_config_or_exit(config_path)
    configured_source(config_path, config, source)
    database = open_database(config, "current")
    try:
        changes = changes_of(database, source, states or ("pending", "failed"), limit)
    finally:
        database.close()
    if as_json:
        click.echo(json.dumps(changes, indent=2))
        return
    print_table(
        ["change", "recorded", "entry", "location", "status", "state", "attempts", "next attempt", "last error"],
        [[c["change"], c["recorded_at"], c["entry"], c["location"] or "-", c["status"], c["state"], c["attempts"],
          c["next_attempt_at"] or "-", c["last_error"] or "-"] for c in changes],
        empty=f"No write-back change of source '{source}' in state {', '.join(states or ('pending', 'failed'))}.",
    )


@write_back_group.command("retry")
@config_option
@click.argument("source")
@click.option("--change", "change_ids", type=click.IntRange(min=1), multiple=True, metavar="N",
              help="The failed change N (its number in `write-back list`; repeatable).")
@click.option("--all-failed", is_flag=True, help="Every failed change of SOURCE.")
def retry(config_path: Path, source: str, change_ids: tuple[int, ...], all_failed: bool) -> None:
    """Put SOURCE's failed write-back changes back to pending, once the cause is fixed (e.g. the token was
    given import rights): a running `pylantir run` delivers them within seconds.

    A failed change is retried only when it is the newest change of its entry; an older one is marked
    superseded (the newer change carries the entry's current state), so an older state is never written
    after a newer one. A retried change starts afresh: its attempts and write_back.give_up_after_hours count
    from now. The retry is audited as cli:<login name>.
    """
    from pylantir.sync.clock import SystemClock
    from pylantir.writeback.admin import RetryError, audit_retry, retry_failed

    if bool(change_ids) == all_failed:
        raise click.UsageError("give --change N (one or more) or --all-failed")
    config = load_config_or_exit(config_path)
    if not configured_source(config_path, config, source).writes_back:
        raise click.UsageError(f"source '{source}' does not write back (no enabled write_back block in "
                               f"{config_path}): nothing would deliver the changes")
    database = open_database(config, "current")
    try:
        with database.session() as session:
            report = retry_failed(session, source, list(change_ids) if change_ids else None, SystemClock().now())
            audit_retry(session, source, report, cli_actor())
    except RetryError as exc:
        raise click.ClickException(f"nothing retried: {exc}") from exc
    finally:
        database.close()
    for old, newer in sorted(report.superseded.items()):
        click.echo(f"change {old}: superseded by change {newer} of the same entry (not retried)")
    click.echo(f"{len(report.retried)} change(s) of source '{source}' back to pending"
               + (f": {', '.join(map(str, report.retried))}" if report.retried else ""))
