"""``pylantir db``: bring the database schema up to date, and show what the database holds.

SQLAlchemy and Alembic are imported when a command runs, not when the CLI starts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from pylantir.cli.context import CliContext, config_option, load_config_or_exit, pass_cli
from pylantir.cli.output import print_table
from pylantir.config import PylantirConfig

if TYPE_CHECKING:
    from pylantir.plugins import PluginRegistry
    from pylantir.store import Database

T = TypeVar("T")


@click.group("db")
def db_group() -> None:
    """Inspect and upgrade the worklist database."""


@db_group.command("upgrade")
@config_option
@pass_cli
def upgrade(cli_ctx: CliContext, config_path: Path) -> None:
    """Create the database schema, or upgrade an older one to this version's (rows are kept).

    A database of the previous Pylantir (0.3.x-0.4.6) also gets its worklist imported, once (its old table
    is kept as legacy_worklist_items). Pylantir also does all this at start; the command lets a site upgrade
    ahead of time.
    """
    config = load_config_or_exit(config_path)
    database = open_database(config, upgrade=True)
    try:
        revision = _guarded(database, database.revision)
        click.echo(f"{database.safe_url()}: schema at revision {revision} (newest)")
        import_previous(database, config, cli_ctx.registry(Path(config.plugins_dir) if config.plugins_dir else None))
    finally:
        database.close()


def import_previous(database: Database, config: PylantirConfig, registry: PluginRegistry) -> None:
    """Import the previous Pylantir's worklist if the database has one not imported yet; say what was done."""
    from pylantir.previous_import import ImportPostponed, import_previous_worklist

    try:
        report = _guarded(database, lambda: import_previous_worklist(database, config, registry))
    except ImportPostponed as exc:
        raise click.ClickException(f"the previous Pylantir's worklist is not imported yet: {exc}") from exc
    if report is not None:
        click.echo(report.summary(), err=True)


@db_group.command("info")
@config_option
def info(config_path: Path) -> None:
    """Show the database URL (password hidden), its schema revision and the rows in each table."""
    from pylantir.store.queries import previous_import_state, row_counts

    config = load_config_or_exit(config_path)
    missing = _missing_sqlite_file(config.database_url)
    database = open_database(config, upgrade=False)
    try:
        click.echo(f"database: {database.safe_url()}")
        if missing:
            click.echo(f"revision: none (the file {missing} does not exist yet; Pylantir creates it at start)")
            return
        revision, counts, previous = _guarded(database, lambda: (
            database.revision(), row_counts(database.engine), previous_import_state(database.engine)))
        click.echo(f"revision: {_revision_state(revision)}")
        if previous:
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
    MPPS instances), old sync runs and their rejected rows.

    `pylantir run` does this every housekeeping.interval_minutes; this command is for sites that run
    `pylantir sync` from cron. It works in small transactions, so a running server keeps answering.
    """
    from pylantir.housekeeping import Pruner
    from pylantir.store.schema import head_revision
    from pylantir.sync.clock import SystemClock

    config = load_config_or_exit(config_path)
    database = open_database(config, upgrade=False)
    try:
        revision = _guarded(database, database.revision)
        if revision != head_revision():
            raise click.ClickException(f"database {database.safe_url()}: schema {_revision_state(revision)}")
        report = _guarded(database, lambda: Pruner(database, config).run(SystemClock().now(), dry_run=dry_run))
    finally:
        database.close()
    if report.skipped:
        click.echo(f"nothing removed: {report.skipped}", err=True)
        return
    print_table(["would remove" if dry_run else "removed", "rows"],
                [[what, count] for what, count in report.counts().items()], empty="")


def open_database(config: PylantirConfig, *, upgrade: bool) -> Database:
    """The configured database, upgraded first when asked; connection problems become CLI errors."""
    from sqlalchemy.exc import ArgumentError

    from pylantir.store import Database

    try:
        database = Database(config.database_url, echo=config.database_echo)
    except (ArgumentError, ImportError) as exc:  # unknown dialect, or its driver is not installed
        raise click.ClickException(f"cannot use database_url: {exc}") from exc
    if upgrade:
        _guarded(database, database.upgrade)
    return database


def _revision_state(revision: str | None) -> str:
    from pylantir.store.schema import head_revision

    newest = head_revision()
    if revision is None:
        return "none (empty database; run 'pylantir db upgrade')"
    if revision == newest:
        return f"{revision} (newest)"
    return f"{revision} (newest is {newest}; run 'pylantir db upgrade')"


def _guarded(database: Database, action: Callable[[], T]) -> T:
    """Run ``action``; a database failure becomes a CLI error naming the URL (password hidden)."""
    from sqlalchemy.exc import SQLAlchemyError

    from pylantir.store.schema import SchemaError

    try:
        return action()
    except (SQLAlchemyError, SchemaError) as exc:
        database.close()
        detail = getattr(exc, "orig", None) or exc
        raise click.ClickException(f"database {database.safe_url()}: {detail}") from exc


def _missing_sqlite_file(url: str) -> Path | None:
    """The SQLite file of ``url`` when it does not exist (connecting would create it)."""
    from pylantir.store.database import sqlite_file

    path = sqlite_file(url)
    return path if path is not None and not path.exists() else None
