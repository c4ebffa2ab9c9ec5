"""``/api/v1/worklist``: search (the C-FIND matcher itself), one item with its lineage and MPPS history,
manual entries (walk-ins) through the sync's own row pipeline, their update, and cancelling an item;
``/api/v1/scanners/{ae_title}/worklist``: what a scanner sees now.

Searches turn their parameters into a C-FIND identifier and run :func:`pylantir.dicom.matching.build_query`
on it: the same keys, wild cards, ranges and case folding as a modality's query, in the same indexed SQL.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field
from pydicom import Dataset
from pydicom.sequence import Sequence as DicomSequence
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pylantir.dicom.keys import checked_keys
from pylantir.dicom.matching import InvalidIdentifier, MatchSettings, build_query
from pylantir.dicom.visibility import VisibilityRules
from pylantir.housekeeping import FINISHED_STATUSES, WAITING_STATUSES
from pylantir.http.auth import Reader, Writer
from pylantir.http.services import Services, ServicesDep
from pylantir.http.walkin import MANUAL_SOURCE, UNPROCESSABLE, WalkInError, cancel_item, create_manual, update_manual
from pylantir.store import AuditEvent, SyncRun, WorklistItem
from pylantir.sync.clock import as_utc, site_today
from pylantir.sync.rows import COLUMNS

router = APIRouter(prefix="/api/v1", tags=["worklist"])

#: Every status an item can have: what a search without ``status`` covers.
ALL_STATUSES = (*WAITING_STATUSES, "STARTED", *FINISHED_STATUSES)
MAX_PAGE = 1000


class Page(BaseModel):
    """One page of a search, by scheduled start; ``total`` counts every match."""

    total: int
    limit: int
    offset: int
    items: list[dict[str, Any]]


def item_json(item: WorklistItem) -> dict[str, Any]:
    """An item as the API shows it: its ID, source and status, then every worklist field that has a value."""
    fields = {column: value for column in COLUMNS if (value := getattr(item, column)) not in (None, {})}
    return {
        "id": item.id,
        "source": item.source_name,
        "status": item.scheduled_procedure_step_status,
        "status_kept": item.status_from_mpps,
        "created_at": as_utc(item.created_at).isoformat(),
        "updated_at": as_utc(item.updated_at).isoformat(),
        **fields,
    }


def _date_key(value: str | None, services: Services) -> str | None:
    """A DICOM date or range (``20261201-20261207``), or ``today`` in the site's time zone."""
    if value is None:
        return None
    today = site_today(services.config.timezone, services.clock.now()).strftime("%Y%m%d")
    return value.replace("today", today)


def identifier(*, top: dict[str, str | None], step: dict[str, str | None]) -> Dataset:
    """A C-FIND identifier with the given keys (``None`` values left out), checked as a received one is."""
    dataset = Dataset()
    for keyword, value in top.items():
        if value is not None:
            setattr(dataset, keyword, value)
    item = Dataset()
    for keyword, value in step.items():
        if value is not None:
            setattr(item, keyword, value)
    if len(item):
        dataset.ScheduledProcedureStepSequence = DicomSequence([item])
    return checked_keys(dataset)


def _search(services: Services, query: Dataset, settings: MatchSettings, limit: int, offset: int,
            source: str | None = None) -> Page:
    try:
        statement = build_query(query, settings).statement
    except InvalidIdentifier as exc:
        raise HTTPException(UNPROCESSABLE, f"{exc.keyword or 'query'}: {exc}") from None
    if source is not None:
        statement = statement.where(WorklistItem.source_name == source)
    with services.database.session() as session:
        total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
        items = session.scalars(statement.limit(limit).offset(offset)).all()
        return Page(total=total, limit=limit, offset=offset, items=[item_json(item) for item in items])


@router.get("/worklist", response_model=Page)
def search_worklist(
    who: Reader,
    services: ServicesDep,
    patient_id: str | None = None,
    patient_name: Annotated[str | None, Query(description="Doe^John, with * and ? wild cards")] = None,
    accession_number: str | None = None,
    study_instance_uid: str | None = None,
    modality: str | None = None,
    station: Annotated[str | None, Query(description="Scheduled Station AE Title")] = None,
    date: Annotated[str | None, Query(description="YYYYMMDD, a range A-B / -B / A-, or 'today'")] = None,
    time: Annotated[str | None, Query(description="HHMM[SS], or a range")] = None,
    status_: Annotated[list[str] | None, Query(alias="status", description="e.g. SCHEDULED (repeatable)")] = None,
    source: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page:
    """Search the worklist with C-FIND's matching (wild cards, ranges, case-insensitive names), every status
    unless ``status`` is given, ignoring the scanners' visibility windows; by scheduled start."""
    query = identifier(
        top={"PatientID": patient_id, "PatientName": patient_name, "AccessionNumber": accession_number,
             "StudyInstanceUID": study_instance_uid},
        step={"Modality": modality, "ScheduledStationAETitle": station,
              "ScheduledProcedureStepStartDate": _date_key(date, services), "ScheduledProcedureStepStartTime": time},
    )
    statuses = tuple(value.upper() for value in status_) if status_ else ALL_STATUSES
    settings = MatchSettings(statuses, services.database.sql, services.config.server.case_insensitive_names,
                             VisibilityRules(), services.clock)
    return _search(services, query, settings, limit, offset, source)


@router.get("/scanners/{ae_title}/worklist")
def scanner_worklist(
    ae_title: str,
    who: Reader,
    services: ServicesDep,
    date: Annotated[str | None, Query(description="'today' (default), YYYYMMDD, a range, or '*': any")] = "today",
    modality: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = MAX_PAGE,
) -> dict[str, Any]:
    """What the scanner with this AE title gets now from the typical query (its own station AE title and
    today's date, as calling AE title too): the configured worklist statuses and visibility windows applied,
    or why its association would be refused."""
    allowed = services.config.server.allowed_aets
    if allowed and ae_title not in allowed:
        return {"ae_title": ae_title, "refused": "the calling AE title is not in server.allowed_aets", "total": 0,
                "items": []}
    query = identifier(top={}, step={"ScheduledStationAETitle": ae_title, "Modality": modality,
                                     "ScheduledProcedureStepStartDate": _date_key(date, services)})
    settings = MatchSettings.for_config(services.config, services.database.sql, services.clock)
    page = _search(services, query, settings, limit, 0)
    return {"ae_title": ae_title, "refused": None, "total": page.total, "items": page.items}


def _item(session: Session, item_id: int) -> WorklistItem:
    item = session.get(WorklistItem, item_id)
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no worklist item {item_id}")
    return item


def _run_json(run: SyncRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {"id": run.id, "source": run.source_name, "started_at": as_utc(run.started_at).isoformat(),
            "outcome": run.outcome, "inserted": run.inserted, "updated": run.updated}


@router.get("/worklist/{item_id}")
def worklist_item(item_id: int, who: Reader, services: ServicesDep) -> dict[str, Any]:
    """One item with its source, lineage (the sync runs that inserted it and last changed it; the manual
    changes) and MPPS history."""
    with services.database.session() as session:
        item = _item(session, item_id)
        changes = session.scalars(select(AuditEvent).where(AuditEvent.target == f"worklist_item:{item_id}")
                                  .order_by(AuditEvent.id)).all()
        return {
            **item_json(item),
            "lineage": {
                "created_by_run": _run_json(session.get(SyncRun, item.created_run_id) if item.created_run_id else None),
                "updated_by_run": _run_json(session.get(SyncRun, item.updated_run_id) if item.updated_run_id else None),
                "changes": [{"at": as_utc(event.at).isoformat(), "actor": event.actor, "action": event.action,
                             "changes": event.changes} for event in changes],
            },
            "mpps": [{"sop_instance_uid": step.sop_instance_uid, "status": step.status,
                      "calling_ae_title": step.calling_ae_title, "created_at": as_utc(step.created_at).isoformat(),
                      "updated_at": as_utc(step.updated_at).isoformat()}
                     for step in sorted(item.mpps, key=lambda step: step.created_at)],
        }


def _walk_in_error(exc: WalkInError) -> HTTPException:
    return HTTPException(exc.status, str(exc))


@router.post("/worklist", status_code=status.HTTP_201_CREATED)
def add_manual_entry(entry: dict[str, Any], who: Writer, services: ServicesDep) -> dict[str, Any]:
    """Add a walk-in from worklist fields by their mapping names (``patient_id``, ``patient_name``,
    ``scheduled_start_date``..., ``extra.<DicomKeyword>``), in any form a source may send them. They go
    through the same normalisation, validation and quality gate as a synced row, and the item belongs to the
    built-in ``manual`` source, which no sync removes."""
    try:
        item_id = services.database.submit_write(create_manual, services, entry, who).result()
    except WalkInError as exc:
        raise _walk_in_error(exc) from None
    return worklist_item(item_id, who, services)


@router.patch("/worklist/{item_id}")
def update_manual_entry(item_id: int, changes: dict[str, Any], who: Writer, services: ServicesDep) -> dict[str, Any]:
    """Change fields of a manual entry (a synced item is changed in its source); ``null`` clears a field.
    The whole entry is checked again as when it was added."""
    try:
        services.database.submit_write(update_manual, services, item_id, changes, who).result()
    except WalkInError as exc:
        raise _walk_in_error(exc) from None
    return worklist_item(item_id, who, services)


class Cancel(BaseModel):
    """Why the step is cancelled (kept in the audit)."""

    reason: str | None = Field(None, max_length=200)


@router.post("/worklist/{item_id}/cancel")
def cancel_worklist_item(item_id: int, who: Writer, services: ServicesDep, body: Cancel | None = None
                         ) -> dict[str, Any]:
    """Cancel a step that has not started: its status becomes DISCONTINUED (kept: later syncs do not change
    it) and it leaves the scanners' worklist; the item stays, for its history."""
    try:
        reason = body.reason if body else None
        services.database.submit_write(cancel_item, services.database, item_id, who, reason).result()
    except WalkInError as exc:
        raise _walk_in_error(exc) from None
    return worklist_item(item_id, who, services)


__all__ = ["ALL_STATUSES", "MANUAL_SOURCE", "item_json", "router"]
