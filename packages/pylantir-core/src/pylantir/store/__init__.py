"""The worklist database: models, engine and session setup, migrations, query helpers."""

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
