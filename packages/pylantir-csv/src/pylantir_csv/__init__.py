"""Pylantir source plugin for CSV exports: ``"type": "csv"``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from pylantir import ConfigProblem, SourceType, hookimpl
from pylantir.validation import problems_from_model


class CsvConfig(BaseModel):
    """The ``config`` object of a ``csv`` source."""

    model_config = ConfigDict(extra="forbid", strict=True)

    file_path: str
    encoding: str = "utf-8"
    delimiter: str | None = None
    watch_for_changes: bool = False


@hookimpl
def source_types() -> list[SourceType]:
    return [SourceType("csv", "Scheduled exams from CSV exports (a file or a glob of files)")]


@hookimpl
def validate_config(config: Mapping[str, Any]) -> list[ConfigProblem]:
    return problems_from_model(CsvConfig, config)
