"""Pylantir source plugin for REDCap projects (through PyCap): ``"type": "redcap"``.

``"type": "redcap_concussion"`` is the same source with the previous Pylantir's second pair of
environment variables (``REDCAP_API_URL_CONCUSSION``, ``REDCAP_API_TOKEN_CONCUSSION``) as defaults.
The plugin exports a project's records (fields, events, filter logic, incremental date range),
combines each participant's baseline row with each selected repeating-instrument row, and yields the
raw rows; the core's ``field_mapping`` builds identifiers from them. See docs/sources-redcap.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pylantir import ConfigProblem, FetchState, Record, SourceType, StepChange, WriteBackResult, hookimpl

# The configuration model (pydantic) is imported by the hooks that use it, not when the plugin is loaded:
# ``pylantir sources list`` and ``config example`` load every plugin and use none of it.
__all__ = [
    "check_write_back", "convert_previous_config", "fetch_entries", "previous_entry_matches", "source_types",
    "validate_config", "validate_write_back", "write_back",
]


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
    from pylantir_redcap.config import check_config, with_type_defaults

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
    from pylantir_redcap.config import source_config

    if not source_config(source_type, config).previous_identifiers:
        return [None] * len(entries)
    return [{"patient_id": str(entry["patient_id"])} if entry.get("patient_id") else None for entry in entries]


@hookimpl
def fetch_entries(
    source_type: str, source_name: str, config: Mapping[str, Any], fields: frozenset[str], state: FetchState
) -> Iterator[Record]:
    """Yield one raw record per selected REDCap row (see :func:`pylantir_redcap.fetch.fetch_records`)."""
    from pylantir_redcap.config import source_config
    from pylantir_redcap.fetch import fetch_records  # PyCap and requests: imported when a fetch runs

    cfg = source_config(source_type, config)
    return fetch_records(source_name, cfg, fields, state)


@hookimpl
def validate_write_back(settings: Mapping[str, Any]) -> list[ConfigProblem]:
    """Check ``write_back.config`` (field names, status values) without contacting REDCap."""
    from pylantir_redcap.writeback import check_settings

    return check_settings(settings)


@hookimpl
def check_write_back(
    source_type: str, source_name: str, config: Mapping[str, Any], settings: Mapping[str, Any]
) -> list[ConfigProblem]:
    """Check the write-back fields against the data dictionary, and the token's right to import."""
    from pylantir_redcap.config import source_config
    from pylantir_redcap.writeback import WriteBackConfig, check_project

    cfg = source_config(source_type, config)
    return check_project(source_name, cfg, WriteBackConfig.model_validate(dict(settings)))


@hookimpl
def write_back(
    source_type: str, source_name: str, config: Mapping[str, Any], settings: Mapping[str, Any],
    changes: Sequence[StepChange],
) -> list[WriteBackResult]:
    """Import the status and performed date/times of each change into its record (PyCap's import_records)."""
    from pylantir_redcap.config import source_config
    from pylantir_redcap.writeback import WriteBackConfig, write_changes

    cfg = source_config(source_type, config)
    return write_changes(source_name, cfg, WriteBackConfig.model_validate(dict(settings)), changes)
