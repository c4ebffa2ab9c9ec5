"""Pylantir source plugin for JSON and JSON Lines files: ``"type": "json"``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from pylantir import ConfigProblem, SourceType, hookimpl
from pylantir.validation import problems_from_model


class JsonConfig(BaseModel):
    """The ``config`` object of a ``json`` source."""

    model_config = ConfigDict(extra="forbid", strict=True)

    file_path: str
    format: Literal["array", "object", "jsonl"] = "array"
    records_path: str | None = None
    encoding: str = "utf-8"
    watch_for_changes: bool = False


@hookimpl
def source_types() -> list[SourceType]:
    return [SourceType("json", "Scheduled exams from JSON or JSON Lines files")]


@hookimpl
def validate_config(config: Mapping[str, Any]) -> list[ConfigProblem]:
    return problems_from_model(JsonConfig, config)
