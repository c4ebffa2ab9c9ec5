"""Pylantir source plugin for REDCap projects (through PyCap): ``"type": "redcap"``.

The plugin exports a project's records (fields, events, filter logic, incremental date range),
combines each participant's baseline row with each selected repeating-instrument row, and yields the
raw rows; the core's ``field_mapping`` builds identifiers from them. See docs/sources-redcap.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pylantir import ConfigProblem, FetchState, Record, SourceType, hookimpl
from pylantir_redcap.config import RedcapConfig, check_config
from pylantir_redcap.fetch import fetch_records
from pylantir_redcap.fields import SOURCE_KEY

__all__ = ["SOURCE_KEY", "RedcapConfig", "fetch_entries", "source_types", "validate_config"]


@hookimpl
def source_types() -> list[SourceType]:
    """Declare the ``redcap`` source type."""
    return [SourceType("redcap", "Participants and visits from a REDCap project, through PyCap")]


@hookimpl
def validate_config(config: Mapping[str, Any]) -> list[ConfigProblem]:
    """Check a ``redcap`` source's ``config`` without contacting REDCap."""
    return check_config(config)


@hookimpl
def fetch_entries(
    source_name: str, config: Mapping[str, Any], fields: frozenset[str], state: FetchState
) -> Iterator[Record]:
    """Yield one raw record per selected REDCap row (see :func:`pylantir_redcap.fetch.fetch_records`)."""
    return fetch_records(source_name, RedcapConfig.model_validate(dict(config)), fields, state)
