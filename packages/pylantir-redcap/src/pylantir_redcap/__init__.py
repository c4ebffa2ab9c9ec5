"""Pylantir source plugin for REDCap projects (through PyCap): ``"type": "redcap"``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from pylantir import ConfigProblem, SourceType, hookimpl
from pylantir.validation import problems_from_model


class RedcapConfig(BaseModel):
    """The ``config`` object of a ``redcap`` source. Credentials are named, never given."""

    model_config = ConfigDict(extra="forbid", strict=True)

    api_url_env: str = "REDCAP_API_URL"
    api_token_env: str = "REDCAP_API_TOKEN"
    site_id: str | None = None
    protocol: str | dict[str, str] | None = None


@hookimpl
def source_types() -> list[SourceType]:
    return [SourceType("redcap", "Participants and visits from a REDCap project, through PyCap")]


@hookimpl
def validate_config(config: Mapping[str, Any]) -> list[ConfigProblem]:
    return problems_from_model(RedcapConfig, config)
