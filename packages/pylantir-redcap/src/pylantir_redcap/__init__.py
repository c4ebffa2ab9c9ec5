"""Pylantir source plugin for REDCap projects (through PyCap): ``"type": "redcap"``.

``"type": "redcap_concussion"`` is the same source with the previous Pylantir's second pair of
environment variables (``REDCAP_API_URL_CONCUSSION``, ``REDCAP_API_TOKEN_CONCUSSION``) as defaults.
The plugin exports a project's records (fields, events, filter logic, incremental date range),
combines each participant's baseline row with each selected repeating-instrument row, and yields the
raw rows; the core's ``field_mapping`` builds identifiers from them. See docs/sources-redcap.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pylantir import ConfigProblem, FetchState, Record, SourceType, hookimpl
from pylantir_redcap.config import RedcapConfig, check_config, with_type_defaults
from pylantir_redcap.fetch import fetch_records
from pylantir_redcap.fields import SOURCE_KEY

__all__ = ["SOURCE_KEY", "RedcapConfig", "convert_previous_config", "fetch_entries", "previous_entry_matches",
           "source_types", "validate_config"]


@hookimpl
def source_types() -> list[SourceType]:
    """Declare the ``redcap`` source type and its ``redcap_concussion`` variant."""
    return [
        SourceType("redcap", "Participants and visits from a REDCap project, through PyCap"),
        SourceType(
            "redcap_concussion",
            "REDCap, with REDCAP_API_URL_CONCUSSION / REDCAP_API_TOKEN_CONCUSSION (previous Pylantir)",
        ),
    ]


@hookimpl
def validate_config(source_type: str, config: Mapping[str, Any]) -> list[ConfigProblem]:
    """Check a ``redcap`` or ``redcap_concussion`` source's ``config`` without contacting REDCap."""
    return check_config(with_type_defaults(source_type, config))


@hookimpl
def convert_previous_config(previous: Mapping[str, Any]) -> dict[str, Any]:
    """Convert a REDCap source of the previous Pylantir (see :mod:`pylantir_redcap.previous`)."""
    from pylantir_redcap.previous import convert

    return convert(previous)


@hookimpl
def previous_entry_matches(
    source_type: str, config: Mapping[str, Any], entries: list[Mapping[str, Any]]
) -> list[dict[str, str] | None]:
    """The previous Pylantir knew a REDCap exam by its patient ID (``sub_<study>_ses_<session>...``), which a
    source converted from its configuration (``previous_identifiers``) gives the same exam's record."""
    if not RedcapConfig.model_validate(with_type_defaults(source_type, config)).previous_identifiers:
        return [None] * len(entries)
    return [{"patient_id": str(entry["patient_id"])} if entry.get("patient_id") else None for entry in entries]


@hookimpl
def fetch_entries(
    source_type: str, source_name: str, config: Mapping[str, Any], fields: frozenset[str], state: FetchState
) -> Iterator[Record]:
    """Yield one raw record per selected REDCap row (see :func:`pylantir_redcap.fetch.fetch_records`)."""
    cfg = RedcapConfig.model_validate(with_type_defaults(source_type, config))
    return fetch_records(source_name, cfg, fields, state)
