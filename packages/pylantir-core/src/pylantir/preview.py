"""Fetch one configured source and prepare its rows exactly as a sync would, without any database.

What ``pylantir sources check --fetch`` shows and what :func:`pylantir.testing.check_source_contract`
asserts on: the plugin's items go through the source's ``field_mapping`` and the sync engine's
quality checks, and end as worklist entries or rejections with reasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pylantir.config import DataSourceSettings
from pylantir.contract import FetchState, Record, Rejected
from pylantir.plugins import PluginRegistry
from pylantir.sync.mapping import FieldMapping
from pylantir.sync.rows import COLUMNS, PreparedRow, Rejection, RowPreparer

#: Prepared rows carry the raw record's content hash for the writer; a preview writes nothing.
NO_HASH = ""


@dataclass
class Preview:
    """The outcome of one fetch: valid entries (column -> value) and rejections, in source order."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    fetched: int = 0
    unchanged: bool = False


def preview_source(registry: PluginRegistry, source: DataSourceSettings, site_timezone: str = "UTC") -> Preview:
    """Run the source's ``fetch_entries`` once (with no saved state) and map and check every item.

    Raises :class:`pylantir.sync.mapping.MappingError` for an invalid ``field_mapping``, and whatever
    the fetch raises (:class:`pylantir.SourceError`, :class:`pylantir.plugins.PluginBugError`).
    """
    mapping = FieldMapping.parse(dict(source.field_mapping))
    preparer = RowPreparer(mapping, datetime.now(UTC).astimezone(ZoneInfo(site_timezone)).date())
    state = FetchState()
    preview = Preview()
    seen: set[str] = set()
    items = registry.fetch_entries(source.type, source.name, source.config, mapping.source_fields, state)
    for item in items:
        preview.fetched += 1
        outcome = _prepare(preparer, item, preview.fetched)
        if isinstance(outcome, PreparedRow) and outcome.identity in seen:
            outcome = Rejection(outcome.location, None, f"same entry ({outcome.identity}) as an earlier record")
        if isinstance(outcome, PreparedRow):
            seen.add(outcome.identity)
            preview.entries.append(dict(zip(COLUMNS, outcome.values, strict=True)))
        else:
            preview.rejected.append(outcome)
    preview.unchanged = state.unchanged
    return preview


def _prepare(preparer: RowPreparer, item: object, number: int) -> PreparedRow | Rejection:
    if isinstance(item, Record):
        return preparer.prepare(item.data, item.location, NO_HASH)
    if isinstance(item, Mapping):
        return preparer.prepare(item, f"record {number}", NO_HASH)
    if isinstance(item, Rejected):
        return Rejection(item.location, None, item.reason)
    return Rejection(f"item {number}", None, f"the plugin yielded {type(item).__name__}, not a record")
