"""The ``config`` object of a ``calpendo`` source: a pydantic model plus the checks that span several keys.

The keys are the previous Pylantir's (``base_url``, ``api_path``, ``resources``, ``status_filter``,
``timezone``, ``resource_modality_mapping``, ``window_mode``, ``daily_window``), so its configurations map
onto this one plainly. Credentials are never in the file: ``username_env`` and ``password_env`` *name* the
environment variables that hold them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from pylantir import ConfigProblem
from pylantir.config import OperationInterval
from pylantir.validation import known_time_zone, problems_from_model

EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Modality = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9_ ]{1,16}$")]

_API_ROOTS = ("/api", "/webdav")
_WINDOW_KEYS = ("lookback_minutes", "lookahead_hours")


class DailyWindow(OperationInterval):
    """``[start, end)`` in the source's time zone, both required; an end at or before the start is the next day."""

    start_time: tuple[int, int]
    end_time: tuple[int, int]


class CalpendoConfig(BaseModel):
    """The ``config`` object of a ``calpendo`` source (see docs/sources-calpendo.md)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    base_url: str
    api_path: str = "/api"
    resources: list[Name]
    status_filter: list[Name] = Field(default_factory=list)
    projects: list[Name] = Field(default_factory=list)
    timezone: str
    resource_modality_mapping: dict[str, Modality] = Field(default_factory=dict)
    window_mode: Literal["rolling", "today"] = "rolling"
    daily_window: DailyWindow | None = None
    lookback_minutes: float = Field(60.0, gt=0)
    lookahead_hours: float = Field(24.0, gt=0)
    mri_operator: bool = True
    username_env: EnvName = "CALPENDO_USERNAME"
    password_env: EnvName = "CALPENDO_PASSWORD"
    timeout: float = Field(30.0, gt=0)

    @field_validator("base_url")
    @classmethod
    def _server_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be the server's address, like https://yoursite.calpendo.com")
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not hold a user or password; they go in the variables named by "
                             "username_env and password_env")
        if parts.query or parts.fragment:
            raise ValueError("must not have a query (?...) or fragment (#...)")
        return value.rstrip("/")

    @field_validator("resources")
    @classmethod
    def _some_resource(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("must name at least one Calpendo resource, e.g. ['3T Diagnostic']")
        return value

    @field_validator("status_filter", mode="before")
    @classmethod
    def _one_or_more(cls, value: Any) -> Any:
        """The previous Pylantir's single status (``"Approved"``) is a list of one."""
        return [value] if isinstance(value, str) else value

    @field_validator("api_path")
    @classmethod
    def _path(cls, value: str) -> str:
        path = "/" + value.strip("/")
        if path == "/" or any(mark in path for mark in "?#"):
            raise ValueError("must be the API's path on the server: '/api' (Calpendo 11+) or '/webdav' (older)")
        return path

    _known_zone = field_validator("timezone")(known_time_zone)

    def modality_of(self, resource: str) -> str | None:
        """The modality ``resource_modality_mapping`` gives a resource: its exact entry, else the longest prefix."""
        if resource in self.resource_modality_mapping:
            return self.resource_modality_mapping[resource]
        prefixes = [key for key in self.resource_modality_mapping if resource.startswith(key)]
        return self.resource_modality_mapping[max(prefixes, key=len)] if prefixes else None

    def variable_label(self, key: Literal["username_env", "password_env"]) -> str:
        """How messages name the variable ``key`` names: by its name when it looks like one (upper case).

        A name in any other case may be a password pasted into the file by mistake: it is never repeated.
        """
        name = getattr(self, key)
        return name if name.isupper() else f"named by config.{key}"


def check_config(config: Mapping[str, Any]) -> list[ConfigProblem]:
    """Every problem in a ``calpendo`` source's ``config``: the model's, then those spanning keys."""
    problems = problems_from_model(CalpendoConfig, config)
    if problems:
        return problems
    return _cross_checks(CalpendoConfig.model_validate(dict(config)))


def _cross_checks(cfg: CalpendoConfig) -> list[ConfigProblem]:
    keys: tuple[Literal["username_env", "password_env"], ...] = ("username_env", "password_env")
    problems = [
        ConfigProblem(key, f"environment variable {cfg.variable_label(key)} is not set here", "warning")
        for key in keys
        if getattr(cfg, key) not in os.environ
    ]
    if cfg.resource_modality_mapping:
        problems += [
            ConfigProblem("resource_modality_mapping",
                          f"no entry (exact name or prefix) for resource '{resource}'; add one")
            for resource in cfg.resources
            if cfg.modality_of(resource) is None
        ]
    if cfg.daily_window is not None and "window_mode" in cfg.model_fields_set and cfg.window_mode == "rolling":
        problems.append(ConfigProblem("window_mode", "a daily_window replaces the rolling window; leave it out"))
    if cfg.daily_window is not None or cfg.window_mode == "today":
        problems += [
            ConfigProblem(key, "only used by the rolling window; ignored here", "warning")
            for key in _WINDOW_KEYS
            if key in cfg.model_fields_set
        ]
    suffix = "/" + urlsplit(cfg.base_url).path.rsplit("/", 1)[-1]
    if suffix in _API_ROOTS:
        problems.append(ConfigProblem("base_url", f"ends with '{suffix}', which belongs in api_path", "warning"))
    return problems
