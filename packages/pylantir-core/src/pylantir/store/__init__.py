"""The worklist database: models, engine and session setup, migrations, query helpers.

The names below are imported on first use (SQLAlchemy and the models are not loaded by commands that only
read the catalogue, :mod:`pylantir.store.catalogue`, which lives in this package).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pylantir.lazy import lazy_exports

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


__getattr__ = lazy_exports(
    __name__, {name: "pylantir.store.database" if name == "Database" else "pylantir.store.models" for name in __all__}
)
