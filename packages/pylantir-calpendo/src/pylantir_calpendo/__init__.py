"""Pylantir source plugin for Calpendo booking systems: ``"type": "calpendo"``.

The plugin asks a Calpendo server (11+ under ``/api``, older ones under ``/webdav``) for the bookings of
the configured resources that start in the source's window, reads each booking (and an MRI booking's
operator) and yields it as a raw record with the values the core cannot derive itself under
``_source``; the core's ``field_mapping`` makes worklist entries of them. See docs/sources-calpendo.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pylantir import ConfigProblem, FetchState, Record, Rejected, SourceType, hookimpl

# The configuration model (pydantic) and the bookings' reading are imported by the hooks that use them, not when
# the plugin is loaded: ``pylantir sources list`` and ``config example`` load every plugin and use none of them.
__all__ = ["convert_previous_config", "fetch_entries", "previous_entry_matches", "source_types", "validate_config"]


@hookimpl
def source_types() -> list[SourceType]:
    """Declare the ``calpendo`` source type."""
    return [SourceType("calpendo", "Scanner bookings from a Calpendo booking system (Calpendo 11+ or WebDAV)")]


@hookimpl
def validate_config(config: Mapping[str, Any]) -> list[ConfigProblem]:
    """Check a ``calpendo`` source's ``config`` without contacting Calpendo."""
    from pylantir_calpendo.config import check_config

    return check_config(config)


@hookimpl
def convert_previous_config(previous: Mapping[str, Any]) -> dict[str, Any]:
    """Convert a Calpendo source of the previous Pylantir (see :mod:`pylantir_calpendo.previous`)."""
    from pylantir_calpendo.previous import convert

    return convert(previous)


@hookimpl
def previous_entry_matches(entries: list[Mapping[str, Any]]) -> list[dict[str, str] | None]:
    """The previous Pylantir knew a booking by its ID (``source_record_id``), which is the location of the
    booking's record (``booking <id>``, see :func:`pylantir_calpendo.bookings.booking_record`)."""
    from pylantir_calpendo.bookings import booking_location

    return [{"source_key": booking_location(str(entry["source_record_id"]))} if entry.get("source_record_id")
            else None for entry in entries]


@hookimpl
def fetch_entries(source_name: str, config: Mapping[str, Any], state: FetchState) -> Iterator[Record | Rejected]:
    """Yield one raw record per booking in the window (see :func:`pylantir_calpendo.fetch.fetch_bookings`)."""
    from pylantir_calpendo.config import CalpendoConfig
    from pylantir_calpendo.fetch import fetch_bookings  # requests is imported when a fetch runs, not at load

    return fetch_bookings(source_name, CalpendoConfig.model_validate(dict(config)), state)
