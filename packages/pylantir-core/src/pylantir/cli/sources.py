"""``pylantir sources``: the installed source plugins and the types they provide."""

from __future__ import annotations

import json

import click

from pylantir.cli.context import CliContext, pass_cli
from pylantir.cli.output import print_table
from pylantir.cli.scaffold import new_source
from pylantir.cli.sources_check import check_sources
from pylantir.cli.sources_rejected import sources_rejected
from pylantir.cli.sources_status import sources_status
from pylantir.plugins import PluginInfo, PluginStatus


@click.group()
def sources() -> None:
    """Inspect source plugins and configured data sources."""


@sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_cli
def list_sources(cli_ctx: CliContext, as_json: bool) -> None:
    """List discovered source plugins, the types they provide and their status.

    A plugin that fails to load is listed with status 'error' and the reason; it never stops this
    command. Set PYLANTIR_STRICT_PLUGINS=1 to exit non-zero when any plugin is not ok.
    """
    registry = cli_ctx.registry()
    if as_json:
        click.echo(json.dumps([info.as_dict() for info in registry.plugins], indent=2))
    else:
        print_table(
            ["type", "plugin", "version", "status", "summary / problem"],
            [row for info in registry.plugins for row in _rows(info)],
            empty="No source plugins found. Install one, e.g.: pip install pylantir-csv",
        )
    cli_ctx.enforce_strict_plugins()


def _rows(info: PluginInfo) -> list[list[str]]:
    name = info.distribution or info.name
    version = info.version or "-"
    if info.status is PluginStatus.OK:
        return [[t.name, name, version, "ok", t.summary] for t in info.source_types]
    status = info.status.value + (f" ({info.phase})" if info.phase else "")
    types = ", ".join(t.name for t in info.source_types) or "-"
    return [[types, name, version, status, info.detail]]


sources.add_command(new_source)
sources.add_command(check_sources)
sources.add_command(sources_status)
sources.add_command(sources_rejected)
