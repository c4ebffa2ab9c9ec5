"""Today's worklist by station (``/worklist``) and the walk-in form (``/walk-in``).

The worklist is the API's search (:func:`pylantir.http.worklist.search_worklist`: C-FIND's own matching) for
one day of the site's calendar; a walk-in is stored by :func:`pylantir.http.walkin.create_manual`, the same
validation and quality gate as the API's manual entries and a synced row.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from pylantir.http.auth import CSRF_FIELD
from pylantir.http.pages.rendering import REFRESH_SECONDS, Editor, PageDep, Viewer
from pylantir.http.services import Services, ServicesDep
from pylantir.http.walkin import WalkInError, create_manual
from pylantir.http.worklist import MAX_PAGE, search_worklist
from pylantir.sync.clock import site_today

router = APIRouter(include_in_schema=False)
NO_STATION = "(no station)"


@dataclass(frozen=True)
class FormField:
    """One input of the walk-in form: a worklist field (its mapping name), as the form shows it."""

    name: str
    label: str
    hint: str = ""
    required: bool = False
    kind: str = "text"


#: The walk-in form: the fields a desk fills in for a patient who arrives unscheduled.
WALK_IN_FIELDS = (
    FormField("patient_name", "Patient name", "FAMILY^Given, e.g. DOE^JANE", required=True),
    FormField("patient_id", "Patient ID", "the hospital's MRN", required=True),
    FormField("patient_birth_date", "Birth date", "YYYY-MM-DD", kind="date"),
    FormField("patient_sex", "Sex", "F, M or O"),
    FormField("modality", "Modality", "e.g. MR, CT", required=True),
    FormField("scheduled_station_aetitle", "Station (AE title)", "the scanner's AE title, e.g. MRI_3T"),
    FormField("scheduled_start_date", "Date", "YYYY-MM-DD", required=True, kind="date"),
    FormField("scheduled_start_time", "Time", "HH:MM", kind="time"),
    FormField("procedure_description", "Procedure", "e.g. Brain MRI without contrast"),
    FormField("accession_number", "Accession number", "leave empty if there is none"),
)
FORM_NAMES = frozenset(field.name for field in WALK_IN_FIELDS)


def _day(services: Services, value: str | None) -> date | None:
    """The day asked for (today in the site's time zone when none), ``None`` when it is not a date."""
    if not value:
        return site_today(services.config.timezone, services.clock.now())
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def by_station(items: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The items grouped by scheduled station AE title (stations by name), each group by scheduled start."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        groups[str(item.get("scheduled_station_aetitle") or NO_STATION).replace("\\", ", ")].append(item)
    return sorted(groups.items(), key=lambda group: (group[0] == NO_STATION, group[0]))


@router.get("/dashboard/worklist", response_class=HTMLResponse)
def worklist_page(request: Request, who: Viewer, page: PageDep, services: ServicesDep,
                  day: Annotated[str | None, Query(description="YYYY-MM-DD (default: today)")] = None,
                  added: int | None = None) -> Response:
    """One day's worklist (today by default, in the site's time zone) by station, every status, reloading
    itself every 30 s."""
    shown = _day(services, day)
    if shown is None:
        return page.render(request, "message.html", who, status.HTTP_400_BAD_REQUEST, title="Not a date",
                           message=f"day={day!r} is not a date: give it as YYYY-MM-DD.")
    found = search_worklist(who, services, date=shown.strftime("%Y%m%d"), limit=MAX_PAGE)
    counts: dict[str, int] = defaultdict(int)
    for item in found.items:
        counts[page.status_label(item["status"])] += 1
    today = site_today(services.config.timezone, services.clock.now())
    return page.render(request, "worklist.html", who, refresh=REFRESH_SECONDS, day=shown, today=today,
                       previous=shown - timedelta(days=1), following=shown + timedelta(days=1),
                       stations=by_station(found.items), total=found.total, shown_count=len(found.items),
                       counts=dict(counts), added=added)


def _walk_in_form(request: Request, page: PageDep, who: Editor, services: ServicesDep, *,
                  values: dict[str, str], errors: dict[str, str] | None = None, general: str | None = None,
                  status_code: int = 200) -> HTMLResponse:
    today = site_today(services.config.timezone, services.clock.now())
    found = search_worklist(who, services, date=today.strftime("%Y%m%d"), limit=MAX_PAGE)
    stations = sorted({station for item in found.items
                       for station in str(item.get("scheduled_station_aetitle") or "").split("\\") if station}
                      | set(services.config.server.allowed_aets or []))
    return page.render(request, "walkin.html", who, status_code, fields=WALK_IN_FIELDS, values=values,
                       errors=errors or {}, general=general, stations=stations, csrf_field=CSRF_FIELD)


@router.get("/dashboard/walk-in", response_class=HTMLResponse)
def walk_in_page(request: Request, who: Editor, page: PageDep, services: ServicesDep) -> Response:
    """The walk-in form (write role), with today's date and the time now filled in."""
    now = page.now()
    values = {"scheduled_start_date": now.date().isoformat(), "scheduled_start_time": now.strftime("%H:%M")}
    return _walk_in_form(request, page, who, services, values=values)


@router.post("/dashboard/walk-in", response_class=HTMLResponse)
async def walk_in_submit(request: Request, who: Editor, page: PageDep, services: ServicesDep) -> Response:
    """Store the walk-in through the same checks as the API's manual entry; on a problem the form again with
    each message beside its field (422, or 409 when the worklist already has the entry)."""
    form = await request.form()
    values = {field.name: str(form.get(field.name) or "").strip() for field in WALK_IN_FIELDS}
    entry = {name: value for name, value in values.items() if value}
    try:
        item_id = await asyncio.wrap_future(services.database.submit_write(create_manual, services, entry, who))
    except WalkInError as exc:
        errors = {field: message for field, message in reversed(exc.problems) if field in FORM_NAMES}
        general = None if errors and all(field in FORM_NAMES for field, _ in exc.problems) else str(exc)
        return await run_in_threadpool(_walk_in_form, request, page, who, services, values=values, errors=errors,
                                       general=general, status_code=exc.status)
    query = urlencode({"day": entry.get("scheduled_start_date", ""), "added": item_id})
    return RedirectResponse(f"/dashboard/worklist?{query}", status.HTTP_303_SEE_OTHER)
