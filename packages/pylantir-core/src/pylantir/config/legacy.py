"""The previous Pylantir's REDCap-only configuration format, converted to the current one.

A legacy file has ``redcap2wl`` (REDCap field -> worklist field) and top-level settings (``db_path``,
``db_update_interval``, ``site``, ``protocol``...) instead of ``data_sources``. It becomes one source of
type ``redcap`` named :data:`LEGACY_SOURCE_NAME`, whose ``field_mapping`` is the previous Pylantir's
identifier preset (:mod:`pylantir.config.legacy_preset`) followed by the ``redcap2wl`` entries. A
worklist field has one writer: where a ``redcap2wl`` entry targets a field the preset sets, the preset
keeps it (the previous Pylantir's own values; e.g. the shipped ``"scheduled_date": "scheduled_start_date"``
would otherwise hide ``mri_date``) and the warning names the entries left out.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pylantir.config.legacy_preset import LEGACY_REDCAP_PRESET, LEGACY_REQUIRED_FIELDS, SITE_PLACEHOLDER
from pylantir.config.models import OperationInterval
from pylantir.contract import ConfigProblem
from pylantir.validation import problems_from_model

logger = logging.getLogger(__name__)

LEGACY_SOURCE_NAME = "legacy_redcap"
#: The previous Pylantir listened on all interfaces, port 4242, unless told otherwise.
LEGACY_SERVER = {"host": "0.0.0.0", "port": 4242}
#: The previous Pylantir's protocol name when ``protocol`` has no entry for the site.
LEGACY_DEFAULT_PROTOCOL = "DEFAULT_PROTOCOL"

#: Where each legacy top-level key lives in the current format (for hints on mixed-up files).
LEGACY_KEY_HINTS = {
    "db_path": "database_url",
    "db_echo": "database_echo",
    "db_update_interval": "data_sources[].sync_interval",
    "allowed_aet": "server.allowed_aets",
    "site": "data_sources[].config.site_id",
    "protocol": "data_sources[].config.protocol",
    "redcap2wl": "data_sources[].field_mapping",
}

_FALSE_WORDS = {"", "0", "false", "no", "off"}


class LegacyConfig(BaseModel):
    """The keys a previous-Pylantir configuration file may contain (``_comment*`` keys are dropped)."""

    model_config = ConfigDict(extra="forbid")

    redcap2wl: dict[str, Any]
    db_path: str | None = None
    db_echo: bool | int | str = False
    db_update_interval: float = Field(60, gt=0)
    operation_interval: OperationInterval = Field(default_factory=OperationInterval)
    site: str | int | None = None
    protocol: dict[str, str] | str = Field(default_factory=dict)
    allowed_aet: list[str] = Field(default_factory=list)
    data_sources: list[Any] = Field(default_factory=list, max_length=0)
    # Read by the previous Pylantir but without meaning now: accepted, reported as ignored.
    mri_visit_session_mapping: dict[str, Any] | None = None
    mri_visit_repeat_mapping: dict[str, Any] | None = None
    api: dict[str, Any] | None = None
    users_db_path: str | None = None


_IGNORED_KEYS = ("mri_visit_session_mapping", "mri_visit_repeat_mapping", "api", "users_db_path")


def is_legacy(raw: dict[str, Any]) -> bool:
    """Whether a parsed configuration file is in the previous Pylantir's format."""
    return "redcap2wl" in raw


def legacy_problems(raw: dict[str, Any]) -> list[ConfigProblem]:
    """Every problem of a legacy file, located by its legacy keys."""
    if raw.get("data_sources"):
        return [
            ConfigProblem(
                "data_sources",
                "the legacy 'redcap2wl' format and 'data_sources' cannot be combined in one file; "
                "move the REDCap settings into a data source of type 'redcap' "
                "(run 'pylantir config example')",
            )
        ]
    return problems_from_model(LegacyConfig, _without_comments(raw))


def convert_legacy(raw: dict[str, Any], path: str) -> dict[str, Any]:
    """The current-format equivalent of a valid legacy file; logs one deprecation warning showing it."""
    legacy = LegacyConfig.model_validate(_without_comments(raw))
    converted, replaced = _convert(legacy)
    ignored = [key for key in _IGNORED_KEYS if getattr(legacy, key) is not None]
    note = f" Ignored (no longer used): {', '.join(ignored)}." if ignored else ""
    if replaced:
        note += (
            " These redcap2wl entries set worklist fields the previous Pylantir computed itself, "
            f"which keeps precedence: {', '.join(replaced)}."
        )
    logger.warning(
        "DEPRECATED: %s uses the previous Pylantir's configuration format ('redcap2wl'). It still works, "
        "converted to one data source '%s' of type 'redcap'.%s To migrate, replace the file's content "
        "with this equivalent configuration:\n%s",
        path,
        LEGACY_SOURCE_NAME,
        note,
        _readable_json(converted),
    )
    return converted


def _readable_json(value: Any, depth: int = 0) -> str:
    """Indented JSON; lists of plain values and small objects of plain values stay on one line."""
    plain = isinstance(value, dict) and len(value) <= 3 and not any(isinstance(v, (dict, list)) for v in value.values())
    if isinstance(value, dict) and value and not plain:
        lines = [f"{json.dumps(key)}: {_readable_json(item, depth + 1)}" for key, item in value.items()]
        return _block("{", lines, "}", depth)
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        return _block("[", [_readable_json(item, depth + 1) for item in value], "]", depth)
    return json.dumps(value)


def _block(opening: str, lines: list[str], closing: str, depth: int) -> str:
    inner = "  " * (depth + 1)
    return opening + "\n" + ",\n".join(inner + line for line in lines) + "\n" + "  " * depth + closing


def _without_comments(raw: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in raw.items() if not key.startswith("_comment")}


def _convert(legacy: LegacyConfig) -> tuple[dict[str, Any], list[str]]:
    """The converted file, and the ``redcap2wl`` entries left out because the preset sets their field."""
    site = None if legacy.site is None else str(legacy.site)
    protocol = _protocol_name(legacy.protocol, site)
    source_config: dict[str, Any] = {
        "api_url_env": "REDCAP_API_URL",
        "api_token_env": "REDCAP_API_TOKEN",
        "site_id": site,
        "protocol": protocol,
        "repeat_instrument": "mri",
        "require_fields": list(LEGACY_REQUIRED_FIELDS),
        "unknown_fields": "warn",  # the previous Pylantir skipped fields the project lacks; now logged
    }
    preset = {**_preset_for_site(site or ""), "protocol_name": {"value": protocol}}
    kept = {
        key: _fetch_only_unless_worklist_field(key, target)
        for key, target in legacy.redcap2wl.items()
        if not _collides(key, target, preset)
    }
    replaced = [f"{key} -> {target}" for key, target in legacy.redcap2wl.items() if key not in kept]
    server: dict[str, Any] = dict(LEGACY_SERVER)
    if legacy.allowed_aet:
        server["allowed_aets"] = legacy.allowed_aet
    converted: dict[str, Any] = {"server": server}
    if legacy.db_path:
        converted["database_url"] = f"sqlite:///{os.path.expanduser(legacy.db_path)}"
    converted["database_echo"] = str(legacy.db_echo).strip().lower() not in _FALSE_WORDS
    converted["data_sources"] = [
        {
            "name": LEGACY_SOURCE_NAME,
            "type": "redcap",
            "enabled": True,
            "sync_interval": legacy.db_update_interval,
            "operation_interval": legacy.operation_interval.model_dump(mode="json"),
            "config": {key: value for key, value in source_config.items() if value is not None},
            "field_mapping": {**preset, **kept},
        }
    ]
    return converted, replaced


def _fetch_only_unless_worklist_field(key: str, target: Any) -> Any:
    """Legacy entries such as ``"mri_instance": "session_id"`` named internal variables of the previous
    Pylantir, not worklist fields: they only asked for the REDCap field, which ``key: key`` now says."""
    from pylantir.sync.fields import target as worklist_target  # the catalogue of mapping targets

    if isinstance(target, str) and worklist_target(target) is None:
        return key
    return target


def _collides(key: str, target: Any, preset: dict[str, Any]) -> bool:
    """Whether a ``redcap2wl`` entry would write a worklist field the preset already writes."""
    return key in preset or (isinstance(target, str) and target in preset)


def _protocol_name(protocol: dict[str, str] | str, site: str | None) -> str:
    """The previous Pylantir used ``protocol[site]``, or ``DEFAULT_PROTOCOL``."""
    if isinstance(protocol, str):
        return protocol
    return protocol.get(site or "", LEGACY_DEFAULT_PROTOCOL)


def _preset_for_site(site: str) -> dict[str, Any]:
    escaped = json.dumps(site)[1:-1]
    return json.loads(json.dumps(LEGACY_REDCAP_PRESET).replace(SITE_PLACEHOLDER, escaped))
