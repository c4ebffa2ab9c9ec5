"""``pylantir sources new``: write a ready-to-install source-plugin distribution."""

from __future__ import annotations

from pathlib import Path

import click

from pylantir.cli.context import CliContext, pass_cli
from pylantir.plugins import PluginUnavailableError
from pylantir.scaffold import PluginNames, ScaffoldError, create


@click.command("new")
@click.argument("name")
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Directory in which the distribution's folder pylantir-NAME is created.",
)
@pass_cli
def new_source(cli_ctx: CliContext, name: str, parent: Path) -> None:
    """Create a new source plugin distribution pylantir-NAME providing source type NAME.

    It holds a pyproject.toml with the entry point, a module with a working sample source, tests
    that use pylantir.testing, and a README with a config snippet. Works offline.
    """
    try:
        names = PluginNames.from_name(name)
    except ScaffoldError as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        existing = cli_ctx.registry().owner(names.type_name)
    except PluginUnavailableError:
        existing = None
    if existing is not None:
        raise click.ClickException(
            f"source type '{names.type_name}' is already provided by {existing.label}; choose another NAME"
        )
    try:
        root = create(names, parent)
    except (ScaffoldError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Created {names.distribution} in {root}:")
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        click.echo(f"  {path.relative_to(root)}")
    click.echo("Next:")
    click.echo(f"  pip install -e {root}")
    click.echo("  pylantir sources list")
    click.echo(f"  pytest {root / 'tests'}")
