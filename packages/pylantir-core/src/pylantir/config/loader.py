"""Reading a configuration file: JSON parsing, conversion of the previous format, validation with every error located.

One JSON file (``--config PATH`` or ``PYLANTIR_CONFIG``); ``PYLANTIR_DATABASE_URL`` overrides its
``database_url``. All problems of a file are reported together, each with its dotted path.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pylantir.config.models import DataSourceSettings, PylantirConfig, check_database_url
from pylantir.config.previous import (
    SourceConverter,
    convert_previous,
    is_previous,
    previous_problems,
    registry_converter,
)
from pylantir.contract import ConfigProblem
from pylantir.validation import problems_from_model

DATABASE_URL_ENV = "PYLANTIR_DATABASE_URL"
_COMMENT = re.compile(r"\s*//")


class ConfigError(Exception):
    """The configuration file cannot be used; ``problems`` lists every error with its location."""

    def __init__(self, path: str, problems: list[str]):
        super().__init__(f"{path}: " + "; ".join(problems))
        self.path = path
        self.problems = problems


@dataclass
class ConfigReading:
    """A configuration file as far as it could be read: its ``problems`` (formatted, located), the
    ``config`` when there are none, and every data source whose own block is valid, by index (so that
    ``config check`` checks those sources too while the file has other errors)."""

    problems: list[str]
    config: PylantirConfig | None
    sources: list[tuple[int, DataSourceSettings]]
    #: ``plugins_dir`` resolved against the file's directory, when the file names one (even with problems).
    plugins_dir: str | None = None


def read_config(path: str | os.PathLike[str], *, convert_source: SourceConverter | None = None) -> ConfigReading:
    """Read and validate a configuration file, collecting every problem; see :func:`load_config`.

    Raises :class:`ConfigError` only when nothing can be read (unreadable, not JSON, previous-format errors).
    """
    where = str(path)
    raw = read_json(path)
    repeated = duplicate_keys(raw)
    if is_previous(raw):
        _raise_if_any(where, repeated + previous_problems(raw))
        raw = convert_previous(raw, where, convert_source or _installed_plugins())
    problems = repeated + problems_from_model(PylantirConfig, raw) + duplicate_source_names(raw)
    base = Path(path).absolute().parent
    if problems:
        plugins_dir = raw.get("plugins_dir")
        return ConfigReading([format_problem(problem) for problem in problems], None, _valid_sources(raw, base),
                             str(_under(base, plugins_dir)) if isinstance(plugins_dir, str) and plugins_dir else None)
    config = PylantirConfig.model_validate(raw)
    resolve_paths(config, base)
    if url := os.environ.get(DATABASE_URL_ENV):
        try:
            check_database_url(url)
        except ValueError as exc:
            return ConfigReading([f"{DATABASE_URL_ENV} (environment variable): {exc}"], None,
                                 list(enumerate(config.data_sources)), config.plugins_dir)
        config.database_url = url
    return ConfigReading([], config, list(enumerate(config.data_sources)), config.plugins_dir)


def _valid_sources(raw: dict[str, Any], base: Path) -> list[tuple[int, DataSourceSettings]]:
    """The data sources of a file with problems whose own block validates, with their indexes."""
    from pydantic import ValidationError

    items = raw.get("data_sources")
    valid = []
    for index, item in enumerate(items if isinstance(items, list) else ()):
        try:
            source = DataSourceSettings.model_validate(item)
        except ValidationError:
            continue
        source._config_dir = base
        valid.append((index, source))
    return valid


def load_config(path: str | os.PathLike[str], *, convert_source: SourceConverter | None = None) -> PylantirConfig:
    """Read and validate a configuration file, or raise :class:`ConfigError` naming every problem.

    Relative paths are taken relative to the file's directory (:func:`resolve_paths`). A file of the previous
    Pylantir is converted (:mod:`pylantir.config.previous`), each source's type-specific keys by the
    plugin owning the type (``convert_source``; by default the installed plugins), with one deprecation
    warning (logged) that shows the equivalent current-format file.
    """
    reading = read_config(path, convert_source=convert_source)
    if reading.config is None:
        raise ConfigError(str(path), reading.problems)
    return reading.config


def resolve_paths(config: PylantirConfig, base: Path) -> None:
    """Make every relative path of ``config`` relative to ``base`` (the file's directory), not the working
    directory: ``plugins_dir`` and the TLS files here; ``config_dir`` is kept for a SQLite ``database_url``
    (:meth:`~pylantir.config.PylantirConfig.resolved_database_url`) and for each source's plugin, which
    resolves the paths of its ``config`` against it (:attr:`~pylantir.config.DataSourceSettings.config_dir`)."""
    if config.plugins_dir:
        config.plugins_dir = str(_under(base, config.plugins_dir))
    config._config_dir = base
    if (tls := config.server.tls) is not None:
        tls.certificate = str(_under(base, tls.certificate))
        tls.private_key = str(_under(base, tls.private_key))
        if tls.ca_certificates:
            tls.ca_certificates = str(_under(base, tls.ca_certificates))
    for source in config.data_sources:
        source._config_dir = base


def _under(base: Path, path: str) -> Path:
    return base / Path(path).expanduser()  # an absolute path stays as it is


def read_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The file's top-level JSON object, or :class:`ConfigError` (unreadable, not JSON, not an object)."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"), object_pairs_hook=_JsonObject.from_pairs)
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc.strerror}"]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), [f"not UTF-8 text (byte {exc.start})"]) from exc
    except json.JSONDecodeError as exc:
        problem = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        lines = exc.doc.splitlines()
        if exc.lineno <= len(lines) and _COMMENT.match(lines[exc.lineno - 1]):
            problem += "; remove the comment lines (starting with //): JSON has no comments"
        raise ConfigError(str(path), [problem]) from exc
    if not isinstance(raw, dict):
        raise ConfigError(str(path), [f"(top level): must be a JSON object, not {type(raw).__name__}"])
    return raw


class _JsonObject(dict[str, Any]):
    """A parsed JSON object that remembers the keys it held more than once (JSON keeps the last)."""

    repeated: list[str]

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, Any]]) -> _JsonObject:
        obj = cls(pairs)
        obj.repeated = [key for key, count in Counter(key for key, _ in pairs).items() if count > 1]
        return obj


def duplicate_keys(value: Any, path: str = "") -> list[ConfigProblem]:
    """A problem for each key written twice in one object: a typo must never be silently dropped."""
    problems = [
        ConfigProblem(_joined(path, key), "written more than once in the same object; keep one")
        for key in getattr(value, "repeated", ())
    ]
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        problems += duplicate_keys(item, _joined(path, str(key)))
    return problems


def _joined(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def duplicate_source_names(raw: dict[str, Any]) -> list[ConfigProblem]:
    """A problem for each data source whose ``name`` an earlier source already uses."""
    sources = raw.get("data_sources")
    first: dict[str, int] = {}
    problems = []
    for index, item in enumerate(sources if isinstance(sources, list) else ()):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            continue
        if name in first:
            problems.append(
                ConfigProblem(
                    f"data_sources.{index}.name",
                    f"duplicate source name '{name}' (also data_sources.{first[name]}); source names must be unique",
                )
            )
        else:
            first[name] = index
    return problems


def format_problem(problem: ConfigProblem) -> str:
    """``"data_sources.0.sync_interval: must be > 0"``; the file itself is ``(top level)``."""
    return f"{problem.path or '(top level)'}: {problem.message}"


def _installed_plugins() -> SourceConverter:
    """Conversions by the installed plugins (found when a previous-format file is read, not before)."""
    from pylantir.plugins import PluginRegistry

    return registry_converter(PluginRegistry.discover())


def _raise_if_any(path: str, problems: list[ConfigProblem]) -> None:
    if problems:
        raise ConfigError(path, [format_problem(problem) for problem in problems])
