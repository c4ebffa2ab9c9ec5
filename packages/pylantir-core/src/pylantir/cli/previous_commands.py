"""The previous Pylantir's command line (PyPI ``pylantir`` 0.3.x-0.4.6), kept so that sites' service units and
scripts work unchanged: ``start``, ``query-db``, ``test-client`` and ``test-mpps`` with their options
(``--ip``, ``--port``, ``--AEtitle``, ``--pylantir_config``...).

Each is a thin alias: it says once, on standard error, what the current spelling is, then runs the current
command (``run``, ``worklist list``, ``find``, ``mpps create`` / ``mpps set``) with the options translated.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from pylantir.cli.client import find_command, mpps_create, mpps_set
from pylantir.cli.run import run
from pylantir.cli.worklist import list_items

#: What the previous Pylantir's client commands connected to and as whom when not told.
PREVIOUS_PORT = 4242
PREVIOUS_SERVER_AE = "MWL_SERVER"
PREVIOUS_CLIENT_AE = "AE_TITLE_1"
PREVIOUS_MPPS_AE = "TEST_AET"

_config = click.option(
    "--pylantir_config", "config_path", type=click.Path(dir_okay=False, path_type=Path), envvar="PYLANTIR_CONFIG",
    required=True, help="Configuration file (the previous format or the current one). Default: $PYLANTIR_CONFIG.",
)


def _tell_current_spelling(previous: str, *current: object) -> None:
    click.echo(f"pylantir {previous}: the previous Pylantir's command; now spelt: "
               f"{shlex.join(['pylantir', *map(str, current)])}", err=True)


def _given(**options: object) -> list[str]:
    """``--name value`` for every option that has a value."""
    return [part for name, value in options.items() if value is not None
            for part in (f"--{name.replace('_', '-')}", str(value))]


@click.command("start")
@click.option("--ip", help="Address to listen on (default: the configuration's; previous files: 0.0.0.0).")
@click.option("--port", type=int, help="TCP port to listen on (default: the configuration's; previous files: 4242).")
@click.option("--AEtitle", "ae_title", help="AE title to answer as (default: the configuration's).")
@_config
@click.pass_context
def start(ctx: click.Context, ip: str | None, port: int | None, ae_title: str | None, config_path: Path) -> None:
    """The previous Pylantir's `start`: runs `pylantir run` (DICOM server and sync) with these options."""
    _tell_current_spelling("start", "run", "--config", config_path,
                           *_given(host=ip, port=port, ae_title=ae_title))
    ctx.invoke(run, config_path=config_path, host=ip, port=port, ae_title=ae_title)


@click.command("query-db")
@_config
@click.pass_context
def query_db(ctx: click.Context, config_path: Path) -> None:
    """The previous Pylantir's `query-db`: lists the worklist (`pylantir worklist list`)."""
    _tell_current_spelling("query-db", "worklist", "list", "--config", config_path)
    ctx.invoke(list_items, config_path=config_path)


F = TypeVar("F", bound=Callable[..., Any])


def _peer_options(command: F) -> F:
    for option in reversed([
        click.option("--ip", default="127.0.0.1", show_default=True, help="Address of the worklist server."),
        click.option("--port", type=click.IntRange(1, 65535), default=PREVIOUS_PORT, show_default=True,
                     help="Port of the worklist server."),
        click.option("--AEtitle", "called_ae", default=PREVIOUS_SERVER_AE, show_default=True,
                     help="AE title of the worklist server."),
        click.option("--pylantir_config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
                     hidden=True, help="Accepted and not needed (the previous Pylantir read it for nothing here)."),
    ]):
        command = option(command)
    return command


@click.command("test-client")
@_peer_options
@click.pass_context
def test_client(ctx: click.Context, ip: str, port: int, called_ae: str, config_path: Path | None) -> None:
    """The previous Pylantir's `test-client`: a broad C-FIND at --ip --port (`pylantir find`)."""
    _tell_current_spelling("test-client", "find", ip, port, "--called-ae", called_ae,
                           "--calling-ae", PREVIOUS_CLIENT_AE)
    ctx.invoke(find_command, host=ip, port=port, called_ae=called_ae, calling_ae=PREVIOUS_CLIENT_AE)


@click.command("test-mpps")
@_peer_options
@click.option("--mpps_action", type=click.Choice(["create", "set"]), required=True,
              help="create: N-CREATE (IN PROGRESS); set: N-SET to --mpps_status.")
@click.option("--mpps_status", type=click.Choice(["COMPLETED", "DISCONTINUED"]), help="Final status (set).")
@click.option("--callingAEtitle", "calling_ae", default=PREVIOUS_MPPS_AE, show_default=True, help="Our AE title.")
@click.option("--study_uid", help="Study Instance UID of the exam (create).")
@click.option("--sop_uid", help="SOP Instance UID that create printed (set).")
@click.pass_context
def test_mpps(ctx: click.Context, ip: str, port: int, called_ae: str, config_path: Path | None, mpps_action: str,
              mpps_status: str | None, calling_ae: str, study_uid: str | None, sop_uid: str | None) -> None:
    """The previous Pylantir's `test-mpps`: an MPPS N-CREATE for --study_uid, or an N-SET of --sop_uid to
    --mpps_status (`pylantir mpps create` / `pylantir mpps set`)."""
    peer: list[object] = [ip, port, "--called-ae", called_ae, "--calling-ae", calling_ae]
    if mpps_action == "create":
        if not study_uid:
            raise click.UsageError("--mpps_action create needs --study_uid")
        _tell_current_spelling("test-mpps", "mpps", "create", *peer, "--study-uid", study_uid)
        ctx.invoke(mpps_create, host=ip, port=port, called_ae=called_ae, calling_ae=calling_ae, study_uid=study_uid)
        return
    if not (sop_uid and mpps_status):
        raise click.UsageError("--mpps_action set needs --sop_uid and --mpps_status")
    _tell_current_spelling("test-mpps", "mpps", "set", *peer, sop_uid, "--status", mpps_status)
    ctx.invoke(mpps_set, host=ip, port=port, called_ae=called_ae, calling_ae=calling_ae,
               sop_instance_uid=sop_uid, status=mpps_status)


PREVIOUS_COMMANDS = (start, query_db, test_client, test_mpps)
