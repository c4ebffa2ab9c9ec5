"""``pylantir config``: check a configuration file, print a commented example."""

from __future__ import annotations

import difflib
from pathlib import Path

import click

from pylantir.cli.context import CliContext, config_error, load_config_or_exit, pass_cli
from pylantir.config import DataSourceSettings, PylantirConfig
from pylantir.config.example import EXAMPLE_CONFIG
from pylantir.contract import ConfigProblem
from pylantir.plugins import PluginBugError, PluginRegistry, PluginUnavailableError


@click.group("config")
def config_group() -> None:
    """Check configuration files and start new ones."""


@config_group.command("check")
@click.argument("path", envvar="PYLANTIR_CONFIG", type=click.Path(dir_okay=False, path_type=Path))
@pass_cli
def check(cli_ctx: CliContext, path: Path) -> None:
    """Validate the configuration file PATH (default: $PYLANTIR_CONFIG), including each source's config.

    Prints OK and one line per data source, or every error with its location, and then exits
    non-zero. Warnings from plugins are printed but do not fail the check.
    """
    config = load_config_or_exit(path)
    registry = cli_ctx.registry(plugins_dir=Path(config.plugins_dir) if config.plugins_dir else None)
    errors: list[str] = []
    for index, source in enumerate(config.data_sources):
        located = [(f"config{'.' + p.path if p.path else ''}", p) for p in _source_problems(registry, source)]
        if not any(problem.severity == "error" for _, problem in located):
            located += [(problem.path, problem) for problem in _write_back_problems(registry, source)]
        for path_in_source, problem in located:
            where = f"data_sources.{index}.{path_in_source}"
            line = f"{where} (source '{source.name}'): {problem.message}"
            if problem.severity == "warning":
                click.echo(f"warning: {path}: {line}")
            else:
                errors.append(line)
        errors.extend(_mapping_problems(source, f"data_sources.{index}.field_mapping (source '{source.name}')"))
    if errors:
        raise config_error(str(path), errors)
    click.echo(f"OK: {path}")
    for line in _summary(config):
        click.echo(f"  {line}")


@config_group.command("example")
def example() -> None:
    """Print a commented example configuration to start from (delete the // comment lines)."""
    click.echo(EXAMPLE_CONFIG, nl=False)


def _source_problems(registry: PluginRegistry, source: DataSourceSettings) -> list[ConfigProblem]:
    """What the owning plugin says about the source's ``config``, or why there is no such plugin."""
    installed = sorted(registry.source_types())
    if source.type not in installed and not _declared_by_any(registry, source.type):
        return [ConfigProblem("", _unknown_type_message(registry, source.type, installed))]
    try:
        return registry.validate_config(source.type, source.config, source.config_dir)
    except (PluginUnavailableError, PluginBugError) as exc:
        return [ConfigProblem("", str(exc))]


def _write_back_problems(registry: PluginRegistry, source: DataSourceSettings) -> list[ConfigProblem]:
    """What is wrong with the source's ``write_back`` block (paths from the source), if it has one."""
    from pylantir.sync.checks import write_back_problems

    try:
        return write_back_problems(registry, source)
    except (PluginUnavailableError, PluginBugError) as exc:
        return [ConfigProblem("write_back", str(exc))]


def _mapping_problems(source: DataSourceSettings, where: str) -> list[str]:
    """What the sync engine's field-mapping parser says about the source's ``field_mapping``."""
    from pylantir.sync.mapping import FieldMapping, MappingError

    try:
        FieldMapping.of_source(source, where=where)
    except MappingError as exc:
        return exc.problems
    return []


def _declared_by_any(registry: PluginRegistry, source_type: str) -> bool:
    """Whether some plugin declared the type, even one that is not usable (conflict, error)."""
    return any(
        declared.name == source_type for info in registry.plugins for declared in info.source_types
    )


def _unknown_type_message(registry: PluginRegistry, source_type: str, installed: list[str]) -> str:
    message = f"unknown source type '{source_type}'; installed types: {', '.join(installed) or 'none'}"
    guess = difflib.get_close_matches(source_type, installed, n=1)
    if guess:
        message += f"; did you mean '{guess[0]}'?"
    broken = [f"{info.name} ({info.status.value})" for info in registry.problems()]
    if broken:
        message += f" (plugins with problems: {', '.join(broken)}; see 'pylantir sources list')"
    return message


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
