"""Entry point of the ``pylantir`` console script.

The top-level group imports a command's module only when that command runs (or its ``--help`` is asked
for): :data:`COMMANDS` names each command's module and holds the first paragraph of its help, which
``pylantir --help`` lists without importing anything (a test keeps the two identical). So every command
pays only for its own imports.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import click

from pylantir.cli.context import CliContext
from pylantir.cli.database import database_errors, database_problem
from pylantir.cli.logs import LOG_FORMATS, configure_logging
from pylantir.gcpolicy import before_exit


@dataclass(frozen=True)
class LazyCommand:
    """A top-level command: where it is defined (``module:attribute``) and the first paragraph of its help."""

    target: str
    summary: str

    def load(self) -> click.Command:
        """Import the command's module and return the command."""
        module, _, attribute = self.target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command), f"{self.target} is not a click command"
        return command


#: Every top-level command by name (the previous Pylantir's commands last).
COMMANDS: dict[str, LazyCommand] = {
    "sources": LazyCommand("pylantir.cli.sources:sources", "Inspect source plugins and configured data sources."),
    "config": LazyCommand("pylantir.cli.config_cmd:config_group", "Check configuration files and start new ones."),
    "db": LazyCommand("pylantir.cli.db:db_group", "Inspect and upgrade the worklist database."),
    "worklist": LazyCommand("pylantir.cli.worklist:worklist_group", "Inspect the worklist."),
    "write-back": LazyCommand("pylantir.cli.write_back:write_back_group",
                              "Performed-step changes of sources with write_back: list them, retry the failed ones."),
    "sync": LazyCommand("pylantir.cli.sync:sync",
                        "Sync every enabled data source (or each --source NAME) once, then exit."),
    "run": LazyCommand("pylantir.cli.run:run",
                       "Serve the worklist over DICOM (MWL C-FIND, MPPS, C-ECHO) and HTTP (API, health, dashboard), "
                       "and keep it in sync with the data sources."),
    "echo": LazyCommand("pylantir.cli.client:echo_command",
                        "Send a C-ECHO (DICOM verification) to HOST PORT; exit non-zero unless it succeeds."),
    "find": LazyCommand("pylantir.cli.client:find_command",
                        "Query the Modality Worklist at HOST PORT (C-FIND) and print the scheduled procedure steps."),
    "mpps": LazyCommand("pylantir.cli.client:mpps_group",
                        "Send a Modality Performed Procedure Step as a modality does (to test a worklist server)."),
    "users": LazyCommand("pylantir.cli.access:users_group",
                         "Users of the HTTP service (dashboard and API) and their roles: read, write, admin."),
    "tokens": LazyCommand("pylantir.cli.access:tokens_group",
                          "API tokens for scripts and monitoring: 'Authorization: Bearer <token>'."),
    "start": LazyCommand("pylantir.cli.previous_commands:start",
                         "The previous Pylantir's `start`: runs `pylantir run` (DICOM server and sync) with these "
                         "options."),
    "start-api": LazyCommand("pylantir.cli.start_api:start_api",
                             "The previous Pylantir's `start-api`: serves the HTTP service (API, health, dashboard) "
                             "alone."),
    "query-db": LazyCommand("pylantir.cli.previous_commands:query_db",
                            "The previous Pylantir's `query-db`: lists the worklist (`pylantir worklist list`)."),
    "test-client": LazyCommand("pylantir.cli.previous_commands:test_client",
                               "The previous Pylantir's `test-client`: a broad C-FIND at --ip --port "
                               "(`pylantir find`)."),
    "test-mpps": LazyCommand("pylantir.cli.previous_commands:test_mpps",
                             "The previous Pylantir's `test-mpps`: an MPPS N-CREATE for --study_uid, or an N-SET of "
                             "--sop_uid to --mpps_status (`pylantir mpps create` / `pylantir mpps set`)."),
}


class PylantirGroup(click.Group):
    """The top-level group: its commands are imported on use (:data:`COMMANDS`), and a database failure in any
    command becomes one line (see :mod:`pylantir.cli.database`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command's name, in alphabetical order (nothing is imported)."""
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command ``cmd_name``, its module imported on first use."""
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.add_command(COMMANDS[cmd_name].load(), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The "Commands" section as click writes it, from :data:`COMMANDS`' summaries for the commands not
        imported (a stand-in command carries the summary, so click shortens it exactly as the real help)."""
        commands = [(name, self.commands.get(name) or click.Command(name, help=COMMANDS[name].summary))
                    for name in self.list_commands(ctx)]
        shown = [(name, command) for name, command in commands if not command.hidden]
        if shown:
            limit = formatter.width - 6 - max(len(name) for name, _ in shown)
            with formatter.section("Commands"):
                formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in shown])

    def invoke(self, ctx: click.Context) -> object:
        """Run the command; a database failure (of any command) becomes one line, without a traceback."""
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if not isinstance(exc, database_errors()):
                raise
            raise click.ClickException(database_problem(ctx, exc)) from exc


@click.group(cls=PylantirGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="pylantir-core", prog_name="pylantir")
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


def main() -> None:
    """Run the CLI (the ``pylantir`` console script)."""
    try:
        cli(prog_name="pylantir")
    finally:
        before_exit()
