"""Entry point of the ``pylantir`` console script."""

from __future__ import annotations

from pathlib import Path

import click

from pylantir import __version__
from pylantir.cli.access import tokens_group, users_group
from pylantir.cli.client import echo_command, find_command, mpps_group
from pylantir.cli.config_cmd import config_group
from pylantir.cli.context import CliContext
from pylantir.cli.database import database_errors, database_problem
from pylantir.cli.db import db_group
from pylantir.cli.logs import LOG_FORMATS, configure_logging
from pylantir.cli.previous_commands import PREVIOUS_COMMANDS
from pylantir.cli.run import run
from pylantir.cli.sources import sources
from pylantir.cli.sync import sync
from pylantir.cli.worklist import worklist_group
from pylantir.cli.write_back import write_back_group


class PylantirGroup(click.Group):
    """The top-level group: a database failure in any command becomes one line (see :mod:`pylantir.cli.database`)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if not isinstance(exc, database_errors()):
                raise
            raise click.ClickException(database_problem(ctx, exc)) from exc


@click.group(cls=PylantirGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="pylantir")
@click.option(
    "--plugins-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="PYLANTIR_PLUGINS_DIR",
    help="Also load every *.py plugin file in this directory.",
)
@click.option("-v", "--verbose", count=True, help="More log output (-v: INFO, -vv: DEBUG).")
@click.option("--log-format", type=click.Choice(LOG_FORMATS), default="text", envvar="PYLANTIR_LOG_FORMAT",
              show_default=True, help="Log lines as text, or as one JSON object per line (for log shippers).")
@click.pass_context
def cli(ctx: click.Context, plugins_dir: Path | None, verbose: int, log_format: str) -> None:
    """Pylantir: DICOM Modality Worklist and MPPS server fed by pluggable scheduling sources."""
    configure_logging(verbose, log_format)
    ctx.obj = CliContext(plugins_dir=plugins_dir)


cli.add_command(sources)
cli.add_command(config_group)
cli.add_command(db_group)
cli.add_command(worklist_group)
cli.add_command(write_back_group)
cli.add_command(sync)
cli.add_command(run)
cli.add_command(echo_command)
cli.add_command(find_command)
cli.add_command(mpps_group)
cli.add_command(users_group)
cli.add_command(tokens_group)
for previous_command in PREVIOUS_COMMANDS:
    cli.add_command(previous_command)


def main() -> None:
    """Run the CLI (the ``pylantir`` console script)."""
    cli(prog_name="pylantir")
