"""The ``config`` object of a ``redcap`` (or ``redcap_concussion``) source: a pydantic model plus the
checks that span several keys.

Credentials are never in the file: ``api_url_env`` and ``api_token_env`` *name* the environment
variables that hold the API URL and token; each source type has its own default names.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from pylantir import ConfigProblem
from pylantir.validation import known_time_zone, problems_from_model

EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
FieldName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
SiteId = Annotated[str, BeforeValidator(lambda value: str(value) if isinstance(value, int) else value)]

#: The plugin's source types and the environment variables each reads unless the config names others.
#: ``redcap_concussion`` is the previous Pylantir's second REDCap type: the same code, its own variables.
TYPE_DEFAULTS: dict[str, dict[str, str]] = {
    "redcap": {"api_url_env": "REDCAP_API_URL", "api_token_env": "REDCAP_API_TOKEN"},
    "redcap_concussion": {
        "api_url_env": "REDCAP_API_URL_CONCUSSION",
        "api_token_env": "REDCAP_API_TOKEN_CONCUSSION",
    },
}

_LOOKS_LIKE_TOKEN = re.compile(r"^[0-9A-Fa-f]{32}$")
_ENV_KEYS = ("api_url_env", "api_token_env")
_PASTED_TOKEN = (
    "looks like an API token, not the name of an environment variable: never put the token in the "
    "file; put it in a variable and name the variable here"
)


class RedcapConfig(BaseModel):
    """The ``config`` object of a ``redcap`` source (every key optional; see docs/sources-redcap.md)."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    api_url_env: EnvName = TYPE_DEFAULTS["redcap"]["api_url_env"]
    api_token_env: EnvName = TYPE_DEFAULTS["redcap"]["api_token_env"]
    fields: list[FieldName] = Field(default_factory=list)
    events: list[str] = Field(default_factory=list)
    arms: list[int] = Field(default_factory=list)
    repeat_instrument: FieldName | None = None
    require_fields: list[FieldName] = Field(default_factory=list)
    filter_logic: str | None = None
    site_id: SiteId | None = Field(None, validation_alias=AliasChoices("site_id", "site"))
    site_field: FieldName | None = None
    protocol: str | dict[str, str] | None = None
    unknown_fields: Literal["error", "warn"] = "error"
    incremental: bool = True
    full_export_interval: float = Field(3600.0, gt=0)
    server_timezone: str | None = None
    timeout: float = Field(30.0, gt=0)
    #: Add the previous Pylantir's patient ID and name to ``_source`` (see :mod:`pylantir_redcap.previous`).
    previous_identifiers: bool = False

    def protocol_name(self) -> str | None:
        """The protocol for this source's site: ``protocol`` itself, or its entry for ``site_id``."""
        if isinstance(self.protocol, dict):
            return self.protocol.get(self.site_id) if self.site_id is not None else None
        return self.protocol

    def env_label(self, key: Literal["api_url_env", "api_token_env"]) -> str:
        """How to name the variable in messages: its name, unless the name looks like a token itself."""
        name = getattr(self, key)
        return f"config.{key}" if looks_like_token(name) else name


def with_type_defaults(source_type: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` with the environment variable names of ``source_type`` where it names none."""
    return {**TYPE_DEFAULTS[source_type], **config}


def source_config(source_type: str, config: Mapping[str, Any]) -> RedcapConfig:
    """A validated source's ``config`` as the model, with ``source_type``'s defaults (the hooks run only on
    configurations ``validate_config`` accepted)."""
    return RedcapConfig.model_validate(with_type_defaults(source_type, config))


def looks_like_token(value: str) -> bool:
    """Whether ``value`` has the shape of a REDCap API token (32 hexadecimal characters)."""
    return bool(_LOOKS_LIKE_TOKEN.match(value))


def check_config(config: Mapping[str, Any]) -> list[ConfigProblem]:
    """Every problem in a ``redcap`` source's ``config``: the model's, then those spanning keys."""
    pasted = [
        ConfigProblem(key, _PASTED_TOKEN)
        for key in _ENV_KEYS
        if isinstance(config.get(key), str) and looks_like_token(config[key])
    ]
    problems = [p for p in problems_from_model(RedcapConfig, config) if p.path not in {q.path for q in pasted}]
    if pasted or problems:
        return pasted + problems
    return _cross_checks(RedcapConfig.model_validate(dict(config)))


def _cross_checks(cfg: RedcapConfig) -> list[ConfigProblem]:
    problems = []
    for key in _ENV_KEYS:
        if getattr(cfg, key) not in os.environ:
            problems.append(
                ConfigProblem(key, f"environment variable {getattr(cfg, key)} is not set here", "warning")
            )
    if isinstance(cfg.protocol, dict):
        if cfg.site_id is None:
            problems.append(ConfigProblem("protocol", "a per-site protocol map needs site_id (or site)"))
        elif cfg.site_id not in cfg.protocol:
            problems.append(
                ConfigProblem(
                    "protocol", f"has no entry for site '{cfg.site_id}'; entries get no protocol", "warning"
                )
            )
    if cfg.site_field is not None and cfg.site_id is None:
        problems.append(ConfigProblem("site_field", "filtering on a site field needs site_id (or site)"))
    if cfg.server_timezone is not None:
        try:
            known_time_zone(cfg.server_timezone)
        except ValueError as exc:
            problems.append(ConfigProblem("server_timezone", str(exc)))
    return problems
