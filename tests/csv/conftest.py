"""Fixtures for the pylantir-csv tests: the plugin loaded through its real entry point, and a fetch helper."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from pylantir import FetchState, Record, Rejected
from pylantir.plugins import PluginRegistry
from pylantir.testing import load_distribution

Fetch = Callable[..., list[Record | Rejected]]


@pytest.fixture
def registry() -> PluginRegistry:
    """A registry holding only pylantir-csv, loaded through its installed entry point."""
    return load_distribution("pylantir-csv")[0]


@pytest.fixture
def fetch(registry: PluginRegistry) -> Fetch:
    """``fetch(config, fields=(), state=None)``: every item the plugin yields for one sync, as a list."""

    def run(config: dict[str, Any], fields: Iterable[str] = (), state: FetchState | None = None) -> list[Any]:
        items = registry.fetch_entries("csv", "site_b", config, frozenset(fields), state or FetchState())
        return list(items)

    return run
