"""The worklist database: models, engine and session setup, migrations, query helpers.

The names below are imported on first use (SQLAlchemy and the models are not loaded by commands that only
read the catalogue, :mod:`pylantir.store.catalogue`, which lives in this package).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pylantir.store.database import Database
    from pylantir.store.models import (
        ApiToken,
        AuditEvent,
        Base,
        PerformedProcedureStep,
        PreviousEntry,
        PreviousImport,
        RejectedRow,
        RemovedEntry,
        ServiceSecret,
        SourceState,
        SyncRun,
        User,
        WorklistItem,
        WriteBackChange,
    )

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Base",
    "Database",
    "PerformedProcedureStep",
    "PreviousEntry",
    "PreviousImport",
    "RejectedRow",
    "RemovedEntry",
    "ServiceSecret",
    "SourceState",
    "SyncRun",
    "User",
    "WorklistItem",
    "WriteBackChange",
]


def __getattr__(name: str) -> Any:
    """One of :data:`__all__`, from :mod:`pylantir.store.database` or :mod:`pylantir.store.models`."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module("pylantir.store.database" if name == "Database" else "pylantir.store.models")
    value = getattr(module, name)
    globals()[name] = value
    return value
