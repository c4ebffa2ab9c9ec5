"""``pylantir config``: check a configuration file, print a commented example."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from pylantir.cli.context import CliContext, config_error, pass_cli
from pylantir.config.example import EXAMPLE_CONFIG, installed_example

if TYPE_CHECKING:
    from pylantir.config import DataSourceSettings, PylantirConfig


@click.group("config")
def config_group() -> None:
    """Check configuration files and start new ones."""


@config_group.command("check")
@click.argument("path", envvar="PYLANTIR_CONFIG", type=click.Path(dir_okay=False, path_type=Path))
@pass_cli
def check(cli_ctx: CliContext, path: Path) -> None:
    """Validate the configuration file PATH (default: $PYLANTIR_CONFIG), including each source's config.

    Prints OK and one line per data source, or every error with its location, and then exits
    non-zero: the file's own errors and, in the same run, those of every source whose own block is
    valid (its plugin's checks and its field_mapping). Warnings from plugins are printed but do not
    fail the check.
    """
    from pylantir.config import ConfigError, read_config
    from pylantir.sync.checks import all_source_problems

    try:
        reading = read_config(path)
    except ConfigError as exc:
        raise config_error(exc.path, exc.problems) from exc
    registry = cli_ctx.registry(plugins_dir=Path(reading.plugins_dir) if reading.plugins_dir else None)
    errors = list(reading.problems)
    for problem in all_source_problems(registry, reading.sources):
        where = f"data_sources.{problem.index}" + (f".{problem.path}" if problem.path else ".config")
        line = f"{where} (source '{problem.source}'): {problem.message}"
        if problem.severity == "warning":
            click.echo(f"warning: {path}: {line}")
        else:
            errors.append(line)
    if errors or reading.config is None:
        raise config_error(str(path), errors)
    click.echo(f"OK: {path}")
    for line in _summary(reading.config):
        click.echo(f"  {line}")


@config_group.command("example")
@click.option("--commented", is_flag=True, help="The annotated template instead: // comment lines, all types.")
@pass_cli
def example(cli_ctx: CliContext, commented: bool) -> None:
    """Print an example configuration to start from: valid JSON, with example sources of the installed types.

    Each example source whose type no installed plugin provides is left out, and a note on stderr names the
    plugin it needs. --commented prints the annotated template of docs/configuration.md (delete its //
    comment lines before use).
    """
    if commented:
        click.echo(EXAMPLE_CONFIG, nl=False)
        return
    text, missing = installed_example(set(cli_ctx.registry().source_types()))
    click.echo(text)
    for name, plugin in missing:
        click.echo(f"note: example source '{name}' left out: it needs the plugin {plugin} (pip install {plugin})",
                   err=True)


def _summary(config: PylantirConfig) -> list[str]:
    if not config.data_sources:
        return ["no data sources configured"]
    return [_source_line(source) for source in config.data_sources]


def _source_line(source: DataSourceSettings) -> str:
    window = source.operation_interval
    start, end = (f"{h:02d}:{m:02d}" for h, m in (window.start_time, window.end_time))
    state = "enabled" if source.enabled else "disabled"
    return (
        f"{source.name} (type {source.type}): {state}, every {source.sync_interval:g}s "
        f"between {start} and {end}, {len(source.field_mapping)} field mapping entries"
    )
