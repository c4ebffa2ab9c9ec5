"""State shared by all commands of one ``pylantir`` invocation, and helpers commands reuse."""

from __future__ import annotations

import getpass
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # imported when a command uses them, so that `pylantir --help` stays fast
    from pylantir.config import DataSourceSettings, PylantirConfig
    from pylantir.plugins import PluginRegistry


@dataclass
class CliContext:
    """Options of the top-level group, and the plugin registry built on first use."""

    plugins_dir: Path | None = None
    _registry: PluginRegistry | None = field(default=None, repr=False)

    def registry(self, plugins_dir: Path | None = None) -> PluginRegistry:
        """Discover plugins once per invocation; ``--plugins-dir`` wins over the config's ``plugins_dir``."""
        if self._registry is None:
            from pylantir.plugins import PluginRegistry

            self._registry = PluginRegistry.discover(self.plugins_dir or plugins_dir)
        return self._registry

    def enforce_strict_plugins(self) -> None:
        """Exit non-zero when ``PYLANTIR_STRICT_PLUGINS`` is set and a plugin is not ``ok``."""
        from pylantir.plugins import strict_mode

        registry = self.registry()
        problems = registry.problems()
        if problems and strict_mode():
            for info in problems:
                click.echo(
                    f"plugin {info.label}: {info.status.value}"
                    f"{f' ({info.phase})' if info.phase else ''}: {info.detail}",
                    err=True,
                )
            click.echo("PYLANTIR_STRICT_PLUGINS is set: failing on plugin problems.", err=True)
            sys.exit(3)


pass_cli = click.make_pass_decorator(CliContext, ensure=True)

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="PYLANTIR_CONFIG",
    required=True,
    help="Configuration file (JSON). Default: $PYLANTIR_CONFIG.",
)


def load_config_or_exit(path: Path) -> PylantirConfig:
    """Load the configuration file, turning problems into a clean CLI error that lists them all."""
    from pylantir.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        raise config_error(exc.path, exc.problems) from exc


def config_error(path: str, problems: list[str]) -> click.ClickException:
    """A CLI error listing every problem of a configuration file (named by its absolute path), one per line."""
    return click.ClickException(
        f"invalid configuration {Path(path).absolute()} ({len(problems)} error(s)):\n"
        + "\n".join(f"  - {p}" for p in problems)
    )


def cli_actor() -> str:
    """Who a command's audited change is recorded as: ``cli:<login name>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def configured_source(config_path: Path, config: PylantirConfig, name: str) -> DataSourceSettings:
    """The data source ``name`` of the configuration, else a usage error listing the configured ones."""
    for source in config.data_sources:
        if source.name == name:
            return source
    known = ", ".join(source.name for source in config.data_sources) or "none"
    raise click.UsageError(f"{config_path} has no data source named '{name}' (configured: {known})")
