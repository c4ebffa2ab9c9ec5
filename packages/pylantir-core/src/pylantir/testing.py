"""Helpers for testing source plugins, opt-in for a plugin's own test suite.

``from pylantir.testing import load_distribution`` in a test module; nothing here is loaded into a
pytest run unless a test imports it.
"""

from __future__ import annotations

from pylantir.plugins import PluginInfo, PluginRegistry, PluginStatus


def load_distribution(entry_point_name: str) -> tuple[PluginRegistry, PluginInfo]:
    """Load exactly one installed plugin through its real ``pylantir`` entry point.

    Proves the packaging: the distribution is installed, its entry point resolves, and the module
    registers. Fails with the plugin's own status and detail when it does not load cleanly.
    """
    registry = PluginRegistry()
    registry.load_entry_points(only=entry_point_name)
    found = [info for info in registry.plugins if info.name == entry_point_name]
    if not found:
        raise AssertionError(f"no installed entry point named {entry_point_name!r} in group 'pylantir'")
    info = found[0]
    if info.status is not PluginStatus.OK:
        raise AssertionError(f"{info.label} is {info.status.value} ({info.phase}): {info.detail}")
    return registry, info
