"""``pylantir sync``: sync every (or one) enabled data source once and exit (for cron or a scheduler)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pylantir.cli.context import CliContext, config_option, load_config_or_exit, pass_cli
from pylantir.cli.database import open_database
from pylantir.cli.db import import_previous
from pylantir.cli.output import print_table

if TYPE_CHECKING:  # the engine is imported when the command runs, so that `pylantir --help` stays fast
    from pylantir.sync.runner import SyncResult
    from pylantir.sync.service import SyncService



@click.command("sync")
@config_option
@click.option("--source", "source_names", multiple=True, metavar="NAME", help="Sync only this source (repeatable).")
@click.option("--fail-on-rejects", is_flag=True,
              help="Exit 1 also when a source rejected rows (they are listed by `pylantir sources rejected`).")
@pass_cli
def sync(cli_ctx: CliContext, config_path: Path, source_names: tuple[str, ...], fail_on_rejects: bool) -> None:
    """Sync every enabled data source (or each --source NAME) once, then exit.

    Shows progress on a terminal, then a summary table. Exits 1 when any source failed (and, with
    --fail-on-rejects, when any rejected rows), so it can be run from cron or an external scheduler.
    The configuration and every source are checked first. Creates or upgrades the database schema.
    """
    from pylantir.sync.checks import check_sources
    from pylantir.sync.result import COUNTS
    from pylantir.sync.service import SyncService, select_sources

    config = load_config_or_exit(config_path)
    registry = cli_ctx.registry(Path(config.plugins_dir) if config.plugins_dir else None)
    cli_ctx.enforce_strict_plugins()
    problems = check_sources(config, registry)
    if problems:
        raise click.ClickException(
            f"cannot sync, {config_path} has problems:\n" + "\n".join(f"  - {p}" for p in problems)
        )
    names = list(source_names) or None
    try:
        selected = [source.name for source in select_sources(config, names)]
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    database = open_database(config, "migrate")
    try:
        import_previous(database, config, registry)  # before the first sync, or its entries would be doubled
        service = SyncService(config, registry, database)
        try:
            results = _with_progress(service, selected, lambda: service.run_once(selected))
        finally:
            service.stop(timeout=0)
    finally:
        database.close()
    print_table(["source", "outcome", *COUNTS, "seconds"], [_summary_row(r) for r in results],
                empty="No enabled data source.")
    for result in results:
        for warning in result.warnings:
            click.echo(f"warning: {warning}", err=True)
        if not result.ok:
            click.echo(f"source '{result.source}' {result.outcome}: {result.error}", err=True)
    rejected = [result for result in results if result.rejected]
    if fail_on_rejects and rejected:
        for result in rejected:
            click.echo(f"source '{result.source}' rejected {result.rejected} row(s): see "
                       f"'pylantir sources rejected {result.source}'", err=True)
    if any(not result.ok for result in results) or (fail_on_rejects and rejected):
        raise SystemExit(1)


def _with_progress(
    service: SyncService, names: list[str], run: Callable[[], list[SyncResult]]
) -> list[SyncResult]:
    """Run ``run`` with a live per-source count of fetched records when stderr is a terminal."""
    if not _may_be_terminal():  # rich would say it is not: no need to import it before the first fetch
        return run()
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        return run()
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn  # only for a terminal

    columns = (SpinnerColumn(finished_text="-"), TextColumn("{task.description}"),
               TextColumn("{task.fields[fetched]} fetched"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        tasks = {name: progress.add_task(name, fetched=0, total=None) for name in names}

        def finished(result: SyncResult) -> None:
            progress.update(tasks[result.source], description=f"{result.source}: {result.outcome}", total=1,
                            completed=1)

        service.progress = lambda name, count: progress.update(tasks[name], fetched=count)
        service.on_finished = finished
        return run()


def _may_be_terminal() -> bool:
    """Whether rich's console may take stderr for a terminal: only when it is a TTY, or ``TTY_COMPATIBLE=1``
    or a non-empty ``FORCE_COLOR`` says so (rich's rules; it decides when this is true)."""
    try:
        tty = sys.stderr.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream: rich says "not a terminal" too
        tty = False
    return tty or os.environ.get("TTY_COMPATIBLE") == "1" or bool(os.environ.get("FORCE_COLOR"))


def _summary_row(result: SyncResult) -> list[object]:
    return [result.source, result.outcome, *result.counts().values(), f"{result.duration:.2f}"]
