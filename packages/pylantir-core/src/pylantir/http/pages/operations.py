"""Source health (``/sources``), a run's rejected rows (``/sources/{name}/runs/{run_id}``) and MPPS in
progress (``/mpps``): the API's own answers (:mod:`pylantir.http.operations`), as pages."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse

from pylantir.accounts import Role
from pylantir.http.auth import CSRF_FIELD
from pylantir.http.operations import (
    RetryRequest,
    recent_mpps,
    rejected_rows,
    retry_write_back,
    source_runs,
    sources,
    write_back_deliveries,
)
from pylantir.http.pages.rendering import REFRESH_SECONDS, PageDep, PageRefused, Viewer
from pylantir.http.services import ServicesDep
from pylantir.sync.result import COUNTS, OK_OUTCOMES

router = APIRouter(include_in_schema=False)
#: Outcomes of a source's latest run that need no one's attention.
FINE = (*OK_OUTCOMES, "running", "writing")
#: Runs shown per source on the health page.
RUNS_SHOWN = 5
#: Performed steps shown on the MPPS page (those in progress first).
MPPS_SHOWN = 100
#: Failed and pending write-back deliveries shown per source on the health page.
DELIVERIES_SHOWN = 20


@router.get("/dashboard/sources", response_class=HTMLResponse)
def sources_page(request: Request, who: Viewer, page: PageDep, services: ServicesDep) -> Response:
    """Each source's health: last success, last error with its message, next run, the instance leading its
    sync, its latest runs with counts and, for a source that writes back, its failed and pending deliveries
    with their last error (reloading itself every 30 s)."""
    health = sources(who, services)
    runs = {entry["name"]: source_runs(entry["name"], who, services, limit=RUNS_SHOWN) for entry in health}
    deliveries = {entry["name"]: write_back_deliveries(entry["name"], who, services, limit=DELIVERIES_SHOWN)["changes"]
                  for entry in health if entry["write_back"] is not None}
    failing = [entry["name"] for entry in health if entry["enabled"] and (
        entry["stale"] or entry["degraded"] or (entry["outcome"] is not None and entry["outcome"] not in FINE)
        or (entry["write_back"] or {}).get("failed"))]
    return page.render(request, "sources.html", who, refresh=REFRESH_SECONDS, sources=health, runs=runs,
                       deliveries=deliveries, counts=COUNTS, failing=failing, ok_outcomes=(None, *FINE),
                       may_retry=who.may(Role.WRITE), csrf_field=CSRF_FIELD)


@router.post("/dashboard/sources/{name}/write-back/retry")
def retry_page(name: str, request: Request, who: Viewer, page: PageDep, services: ServicesDep) -> Response:
    """Retry every failed write-back change of the source (write role; the form carries the CSRF token), then
    back to the source's health."""
    if not who.may(Role.WRITE):
        raise PageRefused(f"Retrying write-back needs the write role; {who.username or who.actor} has the "
                          f"{who.role.value} role.", who)
    try:
        retry_write_back(name, RetryRequest(all_failed=True), who, services)
    except HTTPException as exc:
        return page.render(request, "message.html", who, exc.status_code, title="Nothing retried",
                           message=exc.detail)
    return RedirectResponse(f"/dashboard/sources#source-{name}", status.HTTP_303_SEE_OTHER)


@router.get("/dashboard/sources/{name}/runs/{run_id}", response_class=HTMLResponse)
def run_page(name: str, run_id: int, request: Request, who: Viewer, page: PageDep, services: ServicesDep
             ) -> Response:
    """One sync run: its counts, error and the rows it rejected with their reasons."""
    try:
        answer = rejected_rows(name, run_id, who, services)
    except HTTPException as exc:
        return page.render(request, "message.html", who, exc.status_code, title="No such run", message=exc.detail)
    return page.render(request, "run.html", who, run=answer["run"], rejected=answer["rejected"], counts=COUNTS)


@router.get("/dashboard/mpps", response_class=HTMLResponse)
def mpps_page(request: Request, who: Viewer, page: PageDep, services: ServicesDep) -> Response:
    """Performed procedure steps: those in progress, then the latest that ended (reloading every 30 s)."""
    steps = recent_mpps(who, services, limit=MPPS_SHOWN)
    running = [step for step in steps if step["status"] == "IN PROGRESS"]
    ended = [step for step in steps if step["status"] != "IN PROGRESS"]
    return page.render(request, "mpps.html", who, refresh=REFRESH_SECONDS, running=running, ended=ended)
