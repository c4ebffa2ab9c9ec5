"""What is known about each discovered plugin: its status, where its code lives, what it declares."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from pylantir.contract import SourceType


class PluginStatus(enum.StrEnum):
    """Where a plugin ended after discovery."""

    OK = "ok"
    ERROR = "error"
    DISABLED = "disabled"
    CONFLICT = "conflict"
    EMPTY = "empty"


@dataclass
class PluginInfo:
    """Everything known about one discovered plugin.

    ``code`` holds the real paths of the files and directories of the plugin's code (its module file, or
    its top-level package's directories); error details point at the last frame inside them.
    """

    name: str
    origin: str
    distribution: str | None = None
    version: str | None = None
    status: PluginStatus = PluginStatus.OK
    phase: str | None = None
    detail: str = ""
    source_types: list[SourceType] = field(default_factory=list)
    module: ModuleType | None = field(default=None, repr=False)
    code: tuple[str, ...] = field(default=(), repr=False)

    @property
    def label(self) -> str:
        """Distribution and version (``pylantir-csv 0.1.0``), or the file for a loose plugin."""
        if self.distribution:
            return f"{self.distribution} {self.version or '?'}"
        return f"{self.name} ({self.origin})"

    def fail(self, status: PluginStatus, detail: str, phase: str | None = None) -> None:
        """Record that the plugin ended in ``status`` (during ``phase``), and why."""
        self.status, self.detail, self.phase = status, detail, phase

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view, as printed by ``pylantir sources list --json``."""
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "origin": self.origin,
            "status": self.status.value,
            "phase": self.phase,
            "detail": self.detail,
            "source_types": [
                {"name": t.name, "summary": t.summary, "docs_url": t.docs_url}
                for t in self.source_types
            ],
        }


class PluginUnavailableError(Exception):
    """A configured source needs a plugin that is missing, broken, disabled or in conflict."""
