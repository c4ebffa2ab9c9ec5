"""``/api/v1/sources`` (health, leader, write-back, runs, rejected rows, a sync now, write-back deliveries),
``/api/v1/mpps`` (recent performed steps) and ``/api/v1/audit`` (admins): what operators look at."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from pylantir import audit
from pylantir.config import DataSourceSettings
from pylantir.http.auth import Admin, Reader, Writer
from pylantir.http.services import Services, ServicesDep
from pylantir.plugins import PluginUnavailableError
from pylantir.store import PerformedProcedureStep, RejectedRow, SyncRun
from pylantir.sync.clock import as_utc
from pylantir.sync.lineage import instance_name
from pylantir.sync.result import COUNTS
from pylantir.sync.status import outbox_json, source_statuses
from pylantir.writeback.admin import RetryError, audit_retry, list_changes, retry_failed
from pylantir.writeback.outbox import FAILED, PENDING, STATES, write_back_counts

router = APIRouter(prefix="/api/v1", tags=["operations"])
Limit = Annotated[int, Query(ge=1, le=1000)]
WriteBackState = Literal["pending", "done", "superseded", "failed"]


def _source(services: Services, name: str) -> DataSourceSettings:
    for source in services.config.data_sources:
        if source.name == name:
            return source
    configured = ", ".join(source.name for source in services.config.data_sources) or "none"
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"no source named '{name}' is configured (configured: {configured})")


def _plugin(services: Services, source_type: str) -> str | None:
    """The distribution providing a source type, when this process loaded the plugins (it syncs)."""
    if services.sync is None:
        return None
    try:
        return services.sync.registry.owner(source_type).label
    except PluginUnavailableError:
        return None


@router.get("/sources")
def sources(who: Reader, services: ServicesDep) -> list[dict[str, Any]]:
    """Every configured source: type and plugin, last success, last failure with its message, latest run
    with its counts, next due time, circuit breaker (``degraded``), staleness, the instance leading its sync
    (``leadership``) and, for a source with ``write_back``, its outbox counts (``write_back``)."""
    statuses = source_statuses(services.config, services.database, services.clock.now(), services.started_at,
                               leadership=services.leadership)
    return [{**entry, "plugin": _plugin(services, entry["type"])} for entry in statuses]


def _run_json(run: SyncRun) -> dict[str, Any]:
    return {
        "id": run.id, "source": run.source_name, "type": run.source_type, "outcome": run.outcome,
        "started_at": as_utc(run.started_at).isoformat(),
        "finished_at": as_utc(run.finished_at).isoformat() if run.finished_at else None,
        "counts": {name: getattr(run, name) for name in COUNTS}, "error": run.error,
        "runner": instance_name(run.pid, run.host) if run.host else None,
    }


@router.get("/sources/{name}/runs")
def source_runs(name: str, who: Reader, services: ServicesDep, limit: Limit = 20) -> list[dict[str, Any]]:
    """The source's latest sync runs, newest first, with their counts and errors."""
    _source(services, name)
    with services.database.session() as session:
        runs = session.scalars(select(SyncRun).where(SyncRun.source_name == name)
                               .order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(limit))
        return [_run_json(run) for run in runs]


@router.get("/sources/{name}/runs/{run_id}/rejected")
def rejected_rows(name: str, run_id: int, who: Reader, services: ServicesDep, limit: Limit = 1000,
                  ) -> dict[str, Any]:
    """The rows a run rejected, with their reasons: source row or line, the first field at fault, the message."""
    with services.database.session() as session:
        run = session.get(SyncRun, run_id)
        if run is None or run.source_name != name:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"source '{name}' has no sync run {run_id}")
        rows = session.scalars(select(RejectedRow).where(RejectedRow.sync_run_id == run_id)
                               .order_by(RejectedRow.id).limit(limit))
        return {"run": _run_json(run),
                "rejected": [{"location": row.location, "field": row.field, "reason": row.reason} for row in rows]}


@router.get("/sources/{name}/write-back")
def write_back_deliveries(
    name: str, who: Reader, services: ServicesDep, limit: Limit = 100,
    state: Annotated[list[WriteBackState] | None, Query(description="states to list (repeatable); default: "
                                                       "failed and pending")] = None,
) -> dict[str, Any]:
    """The source's write-back changes, newest first (as ``pylantir write-back list`` shows them): each one's
    state, the status it carries, attempts, last error and when it is tried next, and the entry by its identity,
    accession number, performed step ID and place in the source (no patient data); with the source's counts
    per state."""
    source = _source(services, name)
    if source.write_back is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"source '{name}' does not write back (no write_back in "
                                                       "its configuration)")
    states = [entry for entry in STATES if entry in (state or (FAILED, PENDING))]
    counts = write_back_counts(services.database, [name])[name]
    return {"source": name, "counts": outbox_json(counts, services.clock.now()),
            "changes": list_changes(services.database, name, states, limit)}


class RetryRequest(BaseModel):
    """Which failed changes to retry: ``changes`` (their numbers) or ``all_failed``, not both."""

    changes: list[int] | None = Field(None, min_length=1, description="the failed changes' numbers")
    all_failed: bool = Field(False, description="every failed change of the source")

    @model_validator(mode="after")
    def _one_of(self) -> RetryRequest:
        if (self.changes is None) != self.all_failed:
            raise ValueError("give 'changes' (a list of change numbers) or 'all_failed': true")
        return self


@router.post("/sources/{name}/write-back/retry")
def retry_write_back(name: str, request: RetryRequest, who: Writer, services: ServicesDep) -> dict[str, Any]:
    """Put the source's failed write-back changes back to pending once the cause is fixed, as ``pylantir
    write-back retry`` does (an older change of an entry is superseded, not retried); audited. Answers the
    changes retried and superseded; 409, changing nothing, when a named change is not a failed one."""
    source = _source(services, name)
    if not source.writes_back:
        raise HTTPException(status.HTTP_409_CONFLICT, f"source '{name}' does not write back (no enabled "
                                                      "write_back in its configuration)")
    try:
        with services.database.session() as session:
            report = retry_failed(session, name, request.changes, services.clock.now())
            audit_retry(session, name, report, who.actor, who.remote_address)
    except RetryError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, f"nothing retried: {exc}") from exc
    if services.dicom is not None:  # this process's worker delivers them now (another instance's on its poll)
        services.dicom.write_back.committed(len(report.retried))
    return {"source": name, **report.as_json()}


@router.post("/sources/{name}/sync", status_code=status.HTTP_202_ACCEPTED)
def sync_now(name: str, who: Writer, services: ServicesDep,
             wait: Annotated[bool, Query(description="answer when the sync has ended, with its result")] = False,
             ) -> dict[str, Any]:
    """Start a sync of the source now (or join the one running); with ``wait``, its outcome and counts."""
    source = _source(services, name)
    if not source.enabled:
        raise HTTPException(status.HTTP_409_CONFLICT, f"source '{name}' is disabled (enabled: false)")
    if services.sync is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "this process does not sync (started with --no-sync)")
    with services.database.session() as session:
        audit.record(session, actor=who.actor, action="source.sync", target=f"source:{name}",
                     remote_address=who.remote_address)
    future = services.sync.submit(source.name)
    if not wait:
        return {"source": name, "started": True}
    result = future.result()
    return {"source": name, "started": True, "outcome": result.outcome, "run_id": result.run_id,
            "counts": result.counts(), "error": result.error}


@router.get("/mpps")
def recent_mpps(
    who: Reader, services: ServicesDep, limit: Limit = 100,
    status_: Annotated[str | None, Query(alias="status", description="IN PROGRESS, COMPLETED or DISCONTINUED")] = None,
) -> list[dict[str, Any]]:
    """Recent performed procedure steps, newest change first: state, calling AE title, the linked item."""
    query = select(PerformedProcedureStep).order_by(PerformedProcedureStep.updated_at.desc()).limit(limit)
    if status_:
        query = query.where(PerformedProcedureStep.status == status_.upper())
    with services.database.session() as session:
        return [{
            "sop_instance_uid": step.sop_instance_uid, "status": step.status,
            "calling_ae_title": step.calling_ae_title,
            "created_at": as_utc(step.created_at).isoformat(), "updated_at": as_utc(step.updated_at).isoformat(),
            "worklist_item": None if step.worklist_item is None else {
                "id": step.worklist_item.id, "patient_id": step.worklist_item.patient_id,
                "patient_name": step.worklist_item.patient_name,
                "accession_number": step.worklist_item.accession_number,
                "status": step.worklist_item.scheduled_procedure_step_status},
        } for step in session.scalars(query)]


@router.get("/audit")
def audit_trail(who: Admin, services: ServicesDep, limit: Limit = 100,
                before: Annotated[int | None, Query(description="events older than this event ID (paging)")] = None,
                ) -> list[dict[str, Any]]:
    """Every write through HTTP and every account change, newest first (admins only)."""
    with services.database.session() as session:
        return [{"id": event.id, "at": as_utc(event.at).isoformat(), "actor": event.actor,
                 "remote_address": event.remote_address, "action": event.action, "target": event.target,
                 "changes": event.changes} for event in audit.recent(session, limit, before)]
