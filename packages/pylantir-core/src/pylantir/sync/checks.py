"""Validation of the configured sources before anything runs (``pylantir sync``, ``pylantir run``)."""

from __future__ import annotations

from pylantir.config import DataSourceSettings, PylantirConfig
from pylantir.contract import ConfigProblem
from pylantir.plugins import PluginBugError, PluginRegistry, PluginUnavailableError
from pylantir.sync.mapping import FieldMapping, MappingError


def check_sources(config: PylantirConfig, registry: PluginRegistry) -> list[str]:
    """Every problem of the enabled sources: missing or broken plugin, invalid ``config`` or ``write_back``,
    bad mapping.

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
            invalid = [
                f"{where}.config{'.' + problem.path if problem.path else ''}: {problem.message}"
                for problem in registry.validate_config(source.type, source.config, source.config_dir)
                if problem.severity == "error"
            ]
            if not invalid:  # write_back.config is checked against a valid config
                invalid = [f"{where}.{problem.path}: {problem.message}"
                           for problem in write_back_problems(registry, source) if problem.severity == "error"]
            problems.extend(invalid)
        except (PluginUnavailableError, PluginBugError) as exc:
            problems.append(f"{where}: {exc}")
        try:
            FieldMapping.of_source(source, where=f"{where}.field_mapping")
        except MappingError as exc:
            problems.extend(exc.problems)
    return problems


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
