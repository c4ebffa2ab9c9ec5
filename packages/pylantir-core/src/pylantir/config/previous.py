"""Configuration files of the previous Pylantir (PyPI ``pylantir`` 0.3.x-0.4.6), converted when loaded.

A file is in the previous format when it has one of the previous top-level keys
(:data:`PREVIOUS_TOP_LEVEL_KEYS`: ``db_path``, ``redcap2wl``, ``allowed_aet``, ``legacy_mode``...).
It is converted as the previous Pylantir read it:

- ``redcap2wl`` without ``data_sources`` becomes one source of type ``redcap`` named ``redcap_legacy``
  (the previous Pylantir converted it so itself), with ``site``, ``protocol``, ``db_update_interval`` and
  ``operation_interval``; with ``data_sources`` (even an empty list) those keys were not used;
- ``db_path`` (default ``~/Desktop/worklist.db``, relative to the working directory), ``db_echo`` and
  ``allowed_aet`` become ``database_url``, ``database_echo`` and ``server.allowed_aets``; the server
  listens on ``0.0.0.0`` port 4242 unless ``pylantir start`` / ``run`` says otherwise;
- every source keeps its name (an unnamed one is ``unknown``, what the previous Pylantir called it);
  ``field_mapping`` may sit inside ``config`` and its rich entries (``source_field``/``_extract``) become
  ``from``/``regex`` (:mod:`pylantir.config.previous_mapping`);
- what is specific to a source type (its ``config`` keys, what its plain mapping entries mean, the
  identifiers it built itself, what it let scanners see: the source's ``visibility``) is converted by the
  plugin owning the type, through the optional hook
  ``convert_previous_config`` (see :mod:`pylantir.hookspecs`); without it both stay as written.

Nothing is an error that the previous Pylantir accepted: what has no meaning any more is named in the one
deprecation warning per file, which shows the equivalent current-format configuration.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from pylantir.config.jsontext import readable_json
from pylantir.config.models import OperationInterval, PylantirConfig
from pylantir.config.previous_mapping import PreviousMappingError, convert_rich_entry, is_previous_rich_entry
from pylantir.contract import ConfigProblem
from pylantir.validation import problems_from_model

if TYPE_CHECKING:
    from pylantir.plugins import PluginRegistry

logger = logging.getLogger(__name__)

#: Name of the source a ``redcap2wl`` file becomes (the previous Pylantir's own name for it).
LEGACY_SOURCE_NAME = "redcap_legacy"
#: What the previous Pylantir called a source without a ``name``.
UNNAMED_SOURCE = "unknown"
#: The previous Pylantir's database when ``db_path`` was not given.
PREVIOUS_DEFAULT_DB_PATH = "~/Desktop/worklist.db"
#: The previous Pylantir listened on all interfaces, port 4242, unless told otherwise.
PREVIOUS_SERVER = {"host": "0.0.0.0", "port": 4242}
#: Top-level keys only the previous format has (one of them marks a file as previous).
PREVIOUS_TOP_LEVEL_KEYS = (
    "db_path", "db_echo", "db_update_interval", "operation_interval", "allowed_aet", "site", "protocol",
    "redcap2wl", "mri_visit_session_mapping", "mri_visit_repeat_mapping", "users_db_path", "api",
    "legacy_mode",
)
#: Top-level keys only the current format has: mixed with previous keys, the file is refused.
CURRENT_TOP_LEVEL_KEYS = ("server", "http", "database_url", "database_echo", "plugins_dir", "timezone")
#: Read by the previous Pylantir but without meaning now.
_UNUSED_KEYS = ("mri_visit_session_mapping", "mri_visit_repeat_mapping", "legacy_mode")
#: Keys of a legacy (``redcap2wl``) file that the previous Pylantir ignored once ``data_sources`` was there.
_LEGACY_ONLY_KEYS = ("redcap2wl", "site", "protocol", "db_update_interval", "operation_interval")
_NAME = re.compile(r"[^A-Za-z0-9_.-]")
_FALSE_WORDS = {"", "0", "false", "no", "off"}

#: ``convert(source_type, previous)`` -> the plugin's conversion (``None``: the type has none).
SourceConverter = Callable[[str, dict[str, Any]], "Mapping[str, Any] | None"]


class PreviousSource(BaseModel):
    """A data source as the previous Pylantir read it (keys it did not know were ignored there too)."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    type: str = Field(min_length=1)
    enabled: bool = True
    sync_interval: float = Field(60, gt=0)
    operation_interval: OperationInterval = Field(default_factory=OperationInterval)
    config: dict[str, Any] = Field(default_factory=dict)
    field_mapping: dict[str, Any] | None = None


class PreviousConfig(BaseModel):
    """The keys a previous-Pylantir file may hold (``_comment*`` keys dropped first)."""

    model_config = ConfigDict(extra="allow")

    db_path: str | None = None
    db_echo: bool | int | str = False
    db_update_interval: float = Field(60, gt=0)
    operation_interval: OperationInterval = Field(default_factory=OperationInterval)
    allowed_aet: list[str] = Field(default_factory=list)
    site: str | int | None = None
    protocol: dict[str, str] | str = Field(default_factory=dict)
    redcap2wl: dict[str, Any] | None = None
    users_db_path: str | None = None
    api: dict[str, Any] | None = None
    mri_visit_session_mapping: dict[str, Any] | None = None
    mri_visit_repeat_mapping: dict[str, Any] | None = None
    legacy_mode: Any = None
    data_sources: list[PreviousSource] | None = None


def is_previous(raw: Mapping[str, Any]) -> bool:
    """Whether a parsed configuration file is in the previous Pylantir's format."""
    return any(key in raw for key in PREVIOUS_TOP_LEVEL_KEYS)


def previous_problems(raw: Mapping[str, Any]) -> list[ConfigProblem]:
    """What keeps a previous-format file from loading: wrong types, or keys of both formats mixed."""
    mixed = [key for key in CURRENT_TOP_LEVEL_KEYS if key in raw]
    if mixed:
        previous = [key for key in PREVIOUS_TOP_LEVEL_KEYS if key in raw]
        return [ConfigProblem(key, f"belongs to the current format, but the file also has the previous "
                                   f"Pylantir's {', '.join(repr(p) for p in previous)}; "
                                   "use one format (run 'pylantir config example')") for key in mixed]
    return problems_from_model(PreviousConfig, without_comments(raw))


def without_comments(value: Any) -> Any:
    """``value`` without ``_comment*`` keys at any depth (the previous examples annotate with them)."""
    if isinstance(value, Mapping):
        return {key: without_comments(item) for key, item in value.items() if not str(key).startswith("_comment")}
    if isinstance(value, list):
        return [without_comments(item) for item in value]
    return value


def previous_source_name(label: str | None) -> str:
    """The current name of a source the previous Pylantir called ``label`` (also how imported rows from
    its database are attributed): unchanged when it is a valid name, else with ``_`` for other characters."""
    name = _NAME.sub("_", (label or UNNAMED_SOURCE).strip())[:64]
    return name or UNNAMED_SOURCE


def convert_previous(raw: Mapping[str, Any], where: str, convert_source: SourceConverter) -> dict[str, Any]:
    """The current-format equivalent of a valid previous-format file; logs one deprecation warning with it."""
    previous = PreviousConfig.model_validate(without_comments(raw))
    notes: list[str] = []
    converted: dict[str, Any] = {"server": _server(previous)}
    db_path = previous.db_path or PREVIOUS_DEFAULT_DB_PATH
    converted["database_url"] = f"sqlite:///{Path(os.path.expanduser(db_path)).absolute()}"
    if previous.db_path is None:
        notes.append(f"no db_path: the previous Pylantir's default database {PREVIOUS_DEFAULT_DB_PATH} is used")
    converted["database_echo"] = str(previous.db_echo).strip().lower() not in _FALSE_WORDS
    converted.update(_http(previous, notes))
    sources = _previous_sources(previous, notes)
    converted["data_sources"] = _named([_source(source, convert_source, notes) for source in sources], notes)
    notes += _ignored_notes(previous)
    logger.warning(
        "DEPRECATED: %s is a configuration file of the previous Pylantir. It still works, converted as the "
        "previous Pylantir read it.%s To migrate, replace the file's content with this equivalent "
        "configuration:\n%s",
        where,
        "".join(f"\n  - {note}" for note in notes) + ("\n" if notes else ""),
        readable_json(converted),
    )
    return converted


def _server(previous: PreviousConfig) -> dict[str, Any]:
    server: dict[str, Any] = dict(PREVIOUS_SERVER)
    if previous.allowed_aet:
        server["allowed_aets"] = previous.allowed_aet
    return server


def _http(previous: PreviousConfig, notes: list[str]) -> dict[str, Any]:
    """The previous HTTP API's keys (``api``'s CORS origins, ``users_db_path``) for the HTTP service."""
    api = previous.api or {}
    http: dict[str, Any] = {}
    origins = api.get("cors_allowed_origins")
    if isinstance(origins, list) and origins:
        if "http" in PylantirConfig.model_fields:
            http["cors_allowed_origins"] = [str(origin) for origin in origins]
        else:
            notes.append("api.cors_allowed_origins: this Pylantir has no HTTP service; not used")
    left = sorted(key for key in api if key != "cors_allowed_origins" and not key.startswith("_"))
    if left:
        notes.append(f"api: {', '.join(left)} are not settings any more (the HTTP service allows its own "
                     "methods and headers, with credentials, to the allowed origins)")
    if previous.users_db_path is not None:
        notes.append("users_db_path: users now live in the worklist database; add them with 'pylantir users add' "
                     "(the previous users database is not read)")
    return {"http": http} if http else {}


def _previous_sources(previous: PreviousConfig, notes: list[str]) -> list[PreviousSource]:
    """The sources the previous Pylantir ran: ``data_sources``, or the one ``redcap2wl`` made."""
    if previous.data_sources is not None:
        unused = [key for key in _LEGACY_ONLY_KEYS if key in previous.model_fields_set]
        if unused:
            notes.append(f"{', '.join(unused)}: not used, as in the previous Pylantir, because the file has "
                         "'data_sources' (move them into a source to use them)")
        return previous.data_sources
    if previous.redcap2wl is None:
        return []
    config: dict[str, Any] = {"protocol": previous.protocol}
    if previous.site is not None:
        config["site"] = previous.site
    return [PreviousSource(name=LEGACY_SOURCE_NAME, type="redcap", sync_interval=previous.db_update_interval,
                           operation_interval=previous.operation_interval, config=config,
                           field_mapping=previous.redcap2wl)]


def _source(source: PreviousSource, convert_source: SourceConverter, notes: list[str]) -> dict[str, Any]:
    label = f"data source '{source.name or UNNAMED_SOURCE}'"
    config = dict(source.config)
    inner_mapping = config.pop("field_mapping", None)
    mapping = source.field_mapping if source.field_mapping is not None else inner_mapping or {}
    previous = {**(source.model_extra or {}), "name": source.name, "type": source.type,
                "sync_interval": source.sync_interval, "config": config,
                "field_mapping": _mapping_forms(mapping, label, notes)}
    converted = convert_source(source.type, previous)
    visibility = None
    if converted is not None:
        visibility = converted.get("visibility")
        config = dict(converted.get("config", config))
        mapping = dict(converted.get("field_mapping", previous["field_mapping"]))
        notes += [f"{label}: {note}" for note in converted.get("notes", ())]
    else:
        mapping = previous["field_mapping"]
        extra = sorted(source.model_extra or {})
        if extra:
            notes.append(f"{label}: {', '.join(extra)} not converted (no plugin for type '{source.type}' "
                         "converts the previous Pylantir's keys)")
    current = {"name": source.name, "type": source.type, "enabled": source.enabled,
               "sync_interval": source.sync_interval,
               "operation_interval": source.operation_interval.model_dump(mode="json"),
               "config": config, "field_mapping": mapping}
    if visibility is not None:
        current["visibility"] = dict(visibility)
    return current


def _mapping_forms(mapping: Mapping[str, Any], label: str, notes: list[str]) -> dict[str, Any]:
    """Rich entries in the current syntax; plain entries as written (their direction is the type's)."""
    converted: dict[str, Any] = {}
    for key, spec in mapping.items():
        if not is_previous_rich_entry(spec):
            converted[key] = spec
            continue
        try:
            converted[key] = convert_rich_entry(spec)
        except PreviousMappingError as exc:
            notes.append(f"{label}: field_mapping.{key} left out: {exc}")
    return converted


def _named(sources: list[dict[str, Any]], notes: list[str]) -> list[dict[str, Any]]:
    """Every source with a unique current name (the previous Pylantir's label where it is one)."""
    taken: set[str] = set()
    for source in sources:
        label = source["name"]
        name = base = previous_source_name(label)
        counter = 1
        while name in taken:
            counter += 1
            name = f"{base}_{counter}"
        taken.add(name)
        if name != label:
            notes.append(f"data source {label or '(unnamed)'!s}: named '{name}'")
        source["name"] = name
    return sources


def _ignored_notes(previous: PreviousConfig) -> list[str]:
    notes = []
    unused = [key for key in _UNUSED_KEYS if key in previous.model_fields_set]
    if unused:
        notes.append(f"{', '.join(unused)}: no longer used (the previous Pylantir did not use them either)")
    unknown = sorted(previous.model_extra or {})
    if unknown:
        notes.append(f"{', '.join(unknown)}: unknown to the previous Pylantir too; ignored")
    return notes


def registry_converter(registry: PluginRegistry) -> SourceConverter:
    """The hook ``convert_previous_config`` of the plugin owning each type, through ``registry``.

    ``None`` for a type no usable plugin provides, or whose plugin has no such hook (then the source's
    ``config`` is kept as written, and the configuration check reports what is wrong with it).
    """
    from pylantir.plugins import PluginUnavailableError

    def convert(source_type: str, previous: dict[str, Any]) -> Mapping[str, Any] | None:
        try:
            owner = registry.owner(source_type)
        except PluginUnavailableError:
            return None
        results = registry.call_hook(owner, "convert_previous_config", source_type=source_type, previous=previous)
        return next((result for result in results if result is not None), None)

    return convert
