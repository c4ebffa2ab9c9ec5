"""The demo and the documentation examples use both file plugins: their tests skip when one is missing."""

from __future__ import annotations

from importlib import metadata

import pytest

NEEDED = ("pylantir-csv", "pylantir-json")


def _missing(name: str) -> bool:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return True
    return False


@pytest.fixture(autouse=True)
def file_plugins_installed() -> None:
    """Skip, with the reason, when pylantir-csv or pylantir-json is not installed."""
    missing = [name for name in NEEDED if _missing(name)]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} installed")
