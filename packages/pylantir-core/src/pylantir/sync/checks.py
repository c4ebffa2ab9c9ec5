"""The one validation of configured sources: ``config check``, ``sources check`` and the start-up check of
``sync`` / ``run`` all call :func:`source_problems` and only present what it finds.

Per source: a plugin that can serve its type (or why none can), what the plugin's ``validate_config`` says
about its ``config`` (errors and warnings), and what the mapping parser says about its ``field_mapping``
(with the source's ``date_order``). Makes no I/O beyond what plugins' ``validate_config`` does.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pylantir.config import DataSourceSettings, PylantirConfig
from pylantir.contract import ConfigProblem
from pylantir.plugins import PluginBugError, PluginRegistry, PluginUnavailableError
from pylantir.sync.mapping import FieldMapping, MappingError


@dataclass(frozen=True)
class SourceProblem:
    """One problem of the configured source at ``index``: ``path`` inside the source's block (``config.x``,
    ``field_mapping.y``; empty for the source as a whole)."""

    index: int
    source: str
    path: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        """``data_sources[0] (name).field_mapping.x: message``."""
        return f"data_sources[{self.index}] ({self.source}){'.' + self.path if self.path else ''}: {self.message}"


def source_problems(registry: PluginRegistry, index: int, source: DataSourceSettings) -> list[SourceProblem]:
    """Every problem of one source (its block already valid): plugin, ``config``, ``write_back``,
    ``field_mapping``."""
    problems: list[SourceProblem] = []

    def add(path: str, message: str, severity: Literal["error", "warning"] = "error") -> None:
        problems.append(SourceProblem(index, source.name, path, message, severity))

    if not _declared(registry, source.type):
        add("", _unknown_type(registry, source.type))
    else:
        try:
            registry.owner(source.type, source.name)
            for problem in registry.validate_config(source.type, source.config, source.config_dir):
                add(f"config.{problem.path}" if problem.path else "config", problem.message, problem.severity)
            if not any(problem.severity == "error" for problem in problems):  # against a valid config
                for problem in write_back_problems(registry, source):
                    add(problem.path, problem.message, problem.severity)
        except (PluginUnavailableError, PluginBugError) as exc:
            add("", str(exc))
    try:
        FieldMapping.of_source(source)
    except MappingError as exc:
        for line in exc.problems:
            path, _, message = line.partition(": ")
            add(path, message)
    return problems


def _declared(registry: PluginRegistry, source_type: str) -> bool:
    """Whether some plugin declared the type, even one that is not usable (conflict, error)."""
    return any(declared.name == source_type for info in registry.plugins for declared in info.source_types)


def _unknown_type(registry: PluginRegistry, source_type: str) -> str:
    """A type no plugin declares: the installed types, a guess, and the plugins that failed to load."""
    installed = sorted(registry.source_types())
    message = f"unknown source type '{source_type}'; installed types: {', '.join(installed) or 'none'}"
    guess = difflib.get_close_matches(source_type, installed, n=1)
    if guess:
        message += f"; did you mean '{guess[0]}'?"
    broken = [f"{info.name} ({info.status.value})" for info in registry.problems()]
    if broken:
        message += f" (plugins with problems: {', '.join(broken)}; see 'pylantir sources list')"
    return message


def all_source_problems(
    registry: PluginRegistry, sources: Iterable[tuple[int, DataSourceSettings]], *, enabled_only: bool = False
) -> list[SourceProblem]:
    """:func:`source_problems` of each ``(index, source)`` (only the enabled ones when ``enabled_only``)."""
    return [problem for index, source in sources if source.enabled or not enabled_only
            for problem in source_problems(registry, index, source)]


def check_sources(config: PylantirConfig, registry: PluginRegistry) -> list[str]:
    """The errors that stop ``sync`` and ``run``: every enabled source's (warnings are not problems), and a
    repeated source name (which a file's loader rejects already, but a configuration built in code may hold)."""
    problems: list[SourceProblem] = []
    seen: set[str] = set()
    for index, source in enumerate(config.data_sources):
        if source.name in seen:
            problems.append(SourceProblem(index, source.name, "", "another source has the same name"))
        seen.add(source.name)
    problems += all_source_problems(registry, enumerate(config.data_sources), enabled_only=True)
    return [str(problem) for problem in sorted(problems, key=lambda p: p.index) if problem.severity == "error"]


def write_back_problems(registry: PluginRegistry, source: DataSourceSettings) -> list[ConfigProblem]:
    """The problems of a source's enabled ``write_back`` block (none without one), with paths from the source
    (``write_back``, ``write_back.config.<path>``): a plugin that cannot write back, then its own check.

    Raises what the registry raises (:class:`PluginUnavailableError`, :class:`PluginBugError`).
    """
    if source.write_back is None or not source.write_back.enabled:
        return []
    owner = registry.owner(source.type, source.name)
    if not registry.implements(owner, "write_back"):
        return [ConfigProblem("write_back", f"plugin {owner.label} cannot write back to a '{source.type}' source "
                                            "(it does not implement the write_back hook); remove write_back")]
    return [
        ConfigProblem(f"write_back.config{'.' + problem.path if problem.path else ''}", problem.message,
                      problem.severity)
        for problem in registry.validate_write_back(source.type, source.config, source.write_back.config)
    ]
