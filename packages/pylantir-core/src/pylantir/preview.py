"""Fetch one configured source and prepare its rows as a sync does, without any database.

What ``pylantir sources check --fetch`` shows and what :func:`pylantir.testing.check_source_contract`
asserts on: the sync's own per-item pipeline (:func:`pylantir.sync.fetch.fetch_source`: mapping, quality
checks, identity and the in-fetch dedup) in dry-run mode, with no stored rows to compare with, under the
source's timeout; the rows end as worklist entries or rejections with reasons.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pylantir.config import DataSourceSettings
from pylantir.contract import FetchState
from pylantir.plugins import PluginRegistry
from pylantir.sync.fetch import fetch_source
from pylantir.sync.mapping import FieldMapping
from pylantir.sync.rows import COLUMNS, PreparedRow, Rejection, RowPreparer


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
    the fetch raises (:class:`pylantir.SourceError`, :class:`pylantir.plugins.PluginBugError`,
    :class:`pylantir.sync.pump.SyncStopped` when it outlasts the source's timeout).
    """
    mapping = FieldMapping.of_source(source)
    preparer = RowPreparer(mapping, datetime.now(UTC).astimezone(ZoneInfo(site_timezone)).date())
    rows: list[PreparedRow] = []
    state = FetchState()
    fetched = fetch_source(
        registry, source, mapping, preparer, state, rows.append, deadline=time.monotonic() + source.timeout
    )
    return Preview(
        entries=[dict(zip(COLUMNS, row.values, strict=True)) for row in rows],
        rejected=fetched.rejections,
        fetched=fetched.fetched,
        unchanged=state.unchanged,
    )
