"""Validation of the configured sources before anything runs (``pylantir sync``, ``pylantir run``)."""

from __future__ import annotations

from pylantir.config import PylantirConfig
from pylantir.plugins import PluginBugError, PluginRegistry, PluginUnavailableError
from pylantir.sync.mapping import FieldMapping, MappingError


def check_sources(config: PylantirConfig, registry: PluginRegistry) -> list[str]:
    """Every problem of the enabled sources: missing or broken plugin, invalid ``config``, bad mapping.

    Each problem names the source's place in the file (``data_sources[1] (name)``). Warnings from
    ``validate_config`` are not problems. Makes no I/O beyond what plugins' ``validate_config`` does.
    """
    problems: list[str] = []
    seen: set[str] = set()
    for index, source in enumerate(config.data_sources):
        where = f"data_sources[{index}] ({source.name})"
        if source.name in seen:
            problems.append(f"{where}: another source has the same name")
        seen.add(source.name)
        if not source.enabled:
            continue
        try:
            registry.owner(source.type, source.name)
            problems.extend(
                f"{where}.config{'.' + problem.path if problem.path else ''}: {problem.message}"
                for problem in registry.validate_config(source.type, source.config, source.config_dir)
                if problem.severity == "error"
            )
        except (PluginUnavailableError, PluginBugError) as exc:
            problems.append(f"{where}: {exc}")
        try:
            FieldMapping.of_source(source, where=f"{where}.field_mapping")
        except MappingError as exc:
            problems.extend(exc.problems)
    return problems
