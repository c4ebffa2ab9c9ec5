"""``pylantir db``: bring the database schema up to date, and show what the database holds.

SQLAlchemy and Alembic are imported when a command runs, not when the CLI starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from pylantir.cli.context import CliContext, config_option, load_config_or_exit, pass_cli
from pylantir.cli.database import open_database
from pylantir.cli.output import print_table

if TYPE_CHECKING:
    from pylantir.config import PylantirConfig
    from pylantir.plugins import PluginRegistry
    from pylantir.store import Database


@click.group("db")
def db_group() -> None:
    """Inspect and upgrade the worklist database."""


@db_group.command("upgrade")
@config_option
@pass_cli
def upgrade(cli_ctx: CliContext, config_path: Path) -> None:
    """Create the database schema, or upgrade an older one to this version's (rows are kept).

    A database of the previous Pylantir (0.3.x-0.4.6) also gets its worklist imported, once (its old table
    is kept as legacy_worklist_items). Pylantir also does all this when `pylantir run` or `pylantir sync`
    starts; the command lets a site upgrade ahead of time. Commands that only read (`worklist list`,
    `sources status`, `db prune`...) never migrate.
    """
    config = load_config_or_exit(config_path)
    database = open_database(config, "migrate")
    try:
        click.echo(f"{database.safe_url()}: schema at revision {database.revision()} (newest)")
        import_previous(database, config, cli_ctx.registry(Path(config.plugins_dir) if config.plugins_dir else None))
    finally:
        database.close()


def import_previous(database: Database, config: PylantirConfig, registry: PluginRegistry) -> None:
    """Import the previous Pylantir's worklist if the database has one not imported yet; say what was done."""
    from pylantir.previous_import import ImportPostponed, import_previous_worklist

    try:
        report = import_previous_worklist(database, config, registry)
    except ImportPostponed as exc:
        raise click.ClickException(f"the previous Pylantir's worklist is not imported yet: {exc}") from exc
    if report is not None:
        click.echo(report.summary(), err=True)


@db_group.command("info")
@config_option
def info(config_path: Path) -> None:
    """Show the database URL (password hidden), its schema revision and the rows in each table.

    Creates and migrates nothing: a missing SQLite file or an older schema is reported as such.
    """
    from pylantir.store.database import sqlite_file
    from pylantir.store.queries import previous_import_state, row_counts
    from pylantir.store.schema import revision_state

    database = open_database(load_config_or_exit(config_path), "inspect")
    try:
        click.echo(f"database: {database.safe_url()}")
        path = sqlite_file(database.url)
        if path is not None and not path.exists():
            click.echo(f"revision: none (the file {path} does not exist yet; Pylantir creates it at start)")
            return
        revision, counts = database.revision(), row_counts(database.engine)
        click.echo(f"revision: {revision_state(revision)}")
        if previous := previous_import_state(database.engine):
            click.echo(f"previous Pylantir: {previous}")
        print_table(
            ["table", "rows"],
            [[table, "-" if count is None else count] for table, count in counts.items()],
            empty="no tables",
        )
    finally:
        database.close()


@db_group.command("prune")
@config_option
@click.option("--dry-run", is_flag=True, help="Count what would be removed; remove nothing.")
def prune(config_path: Path, dry_run: bool) -> None:
    """Remove what the housekeeping settings keep no longer: finished and expired worklist items (with their
    MPPS instances), old sync runs and their rejected rows, delivered write-back changes.

    `pylantir run` does this every housekeeping.interval_minutes; this command is for sites that run
    `pylantir sync` from cron. It works in small transactions, so a running server keeps answering.
    """
    from pylantir.housekeeping import Pruner
    from pylantir.sync.clock import SystemClock

    config = load_config_or_exit(config_path)
    database = open_database(config, "current")
    try:
        report = Pruner(database, config).run(SystemClock().now(), dry_run=dry_run)
    finally:
        database.close()
    if report.skipped:
        click.echo(f"nothing removed: {report.skipped}", err=True)
        return
    print_table(["would remove" if dry_run else "removed", "rows"],
                [[what, count] for what, count in report.counts().items()], empty="")

