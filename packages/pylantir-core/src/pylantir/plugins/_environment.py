"""The environment variables that steer plugin loading, and how plugin names are compared."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

ENV_LOAD = "PYLANTIR_LOAD_PLUGINS"
ENV_DISABLE = "PYLANTIR_DISABLE_PLUGINS"
ENV_STRICT = "PYLANTIR_STRICT_PLUGINS"


def normalize_name(name: str) -> str:
    """Compare plugin names the way pip compares distribution names."""
    return re.sub(r"[-_.]+", "-", name).strip().lower()


def _name_list(raw: str) -> set[str]:
    return {normalize_name(part) for part in raw.split(",") if part.strip()}


@dataclass(frozen=True)
class PluginFilter:
    """The allow-list and deny-list from the environment, applied before a plugin is imported."""

    allowed: frozenset[str] | None = None
    denied: frozenset[str] = frozenset()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> PluginFilter:
        """Read ``PYLANTIR_LOAD_PLUGINS`` (set, even empty, means "only these") and ``PYLANTIR_DISABLE_PLUGINS``."""
        allowed = environ.get(ENV_LOAD)
        return cls(
            allowed=None if allowed is None else frozenset(_name_list(allowed)),
            denied=frozenset(_name_list(environ.get(ENV_DISABLE, ""))),
        )

    def why_disabled(self, name: str) -> str | None:
        """The reason the plugin ``name`` must not be imported, or ``None`` when it may be."""
        key = normalize_name(name)
        if key in self.denied:
            return f"disabled by {ENV_DISABLE}"
        if self.allowed is not None and key not in self.allowed:
            return f"not in {ENV_LOAD}"
        return None


def strict_mode(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``PYLANTIR_STRICT_PLUGINS`` asks for plugin problems to fail commands."""
    value = (environ if environ is not None else os.environ).get(ENV_STRICT, "")
    return value.strip().lower() in {"1", "true", "yes", "on"}
