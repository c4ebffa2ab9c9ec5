"""The worklist database: models, engine and session setup, migrations, query helpers."""

from pylantir.store.database import Database
from pylantir.store.models import (
    Base,
    PerformedProcedureStep,
    PreviousEntry,
    PreviousImport,
    RejectedRow,
    RemovedEntry,
    SourceState,
    SyncRun,
    WorklistItem,
    WriteBackChange,
)

__all__ = [
    "Base",
    "Database",
    "PerformedProcedureStep",
    "PreviousEntry",
    "PreviousImport",
    "RejectedRow",
    "RemovedEntry",
    "SourceState",
    "SyncRun",
    "WorklistItem",
    "WriteBackChange",
]
