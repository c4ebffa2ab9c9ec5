"""Rendering the dashboard's pages: the Jinja2 templates (``pylantir/http/templates``), their filters (times
in the site's time zone, names, statuses) and the page dependencies (:data:`Viewer`, :data:`Editor`), which
send a browser without a login to the login form instead of answering 401."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from pylantir.accounts import Role
from pylantir.http.auth import MaybePrincipal, Principal
from pylantir.http.services import Services

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STATIC = Path(__file__).resolve().parent.parent / "static"
#: Seconds between the automatic reloads of the pages that show what changes (worklist, sources, MPPS).
REFRESH_SECONDS = 30

#: How each step status reads on a page, and its colour class.
STATUS_LABELS = {
    "SCHEDULED": "scheduled", "ARRIVED": "arrived", "READY": "ready", "STARTED": "in progress",
    "COMPLETED": "completed", "DISCONTINUED": "cancelled", "IN PROGRESS": "in progress",
}


class LoginRequired(Exception):
    """The page needs a login: the browser is sent to the login form, which returns to ``path`` after."""

    def __init__(self, path: str):
        super().__init__(path)
        self.path = path


class PageRefused(Exception):
    """The user may not use this page (a role too low): a page saying so, with status 403."""

    def __init__(self, message: str, who: Principal):
        super().__init__(message)
        self.who = who


async def viewer(request: Request, who: MaybePrincipal) -> Principal:
    """The logged-in principal of a page, else :class:`LoginRequired`."""
    if who is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(path)
    return who


Viewer = Annotated[Principal, Depends(viewer)]


async def editor(who: Viewer) -> Principal:
    """The logged-in principal of a page that changes the worklist, which needs the write role."""
    if not who.may(Role.WRITE):
        raise PageRefused(f"Adding walk-ins needs the write role; {who.username or who.actor} has the "
                          f"{who.role.value} role.", who)
    return who


Editor = Annotated[Principal, Depends(editor)]


def person(value: str | None) -> str:
    """A DICOM person name as people write it: ``DOE^JANE^^DR`` -> ``DOE, JANE``."""
    if not value:
        return ""
    family, _, rest = value.partition("^")
    given = " ".join(part for part in rest.split("^")[:2] if part)
    return f"{family}, {given}" if given else family


def dicom_time(value: str | None) -> str:
    """``083000`` -> ``08:30``."""
    return f"{value[:2]}:{value[2:4]}" if value and len(value) >= 4 else (value or "")


def dicom_date(value: str | None) -> str:
    """``20261202`` -> ``2026-12-02``."""
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if value and len(value) == 8 else (value or "")


class Page:
    """Renders one template with what every page shows: the user, the site's time zone, the time now."""

    def __init__(self, services: Services):
        self.services = services
        self.zone = ZoneInfo(services.config.timezone)
        environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                                  trim_blocks=True, lstrip_blocks=True)
        environment.filters.update(person=person, dicom_time=dicom_time, dicom_date=dicom_date,
                                   local=self.local, ago=self.ago, status_label=self.status_label)
        self.templates = Jinja2Templates(env=environment)

    def now(self) -> datetime:
        """Now, in the site's time zone."""
        return self.services.clock.now().astimezone(self.zone)

    def local(self, moment: str | datetime | None, form: str = "%d %b %H:%M:%S") -> str:
        """A stored (UTC) time, ISO text or datetime, in the site's time zone."""
        if not moment:
            return "never"
        when = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
        return when.astimezone(self.zone).strftime(form)

    def ago(self, moment: str | datetime | None) -> str:
        """How long ago (or, for a future time, in how long) ``moment`` is: ``3 min ago``, ``in 20 s``."""
        if not moment:
            return ""
        when = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
        seconds = int((self.services.clock.now() - when).total_seconds())
        span = abs(seconds)
        text = (f"{span} s" if span < 120 else f"{span // 60} min" if span < 7200 else f"{span // 3600} h"
                if span < 172800 else f"{span // 86400} days")
        return f"{text} ago" if seconds >= 0 else f"in {text}"

    @staticmethod
    def status_label(status: str | None) -> str:
        """A step's or an MPPS's status as staff say it."""
        return STATUS_LABELS.get(status or "", (status or "unknown").lower())

    def render(self, request: Request, template: str, who: Principal | None, status_code: int = 200,
               **context: Any) -> HTMLResponse:
        """``template`` with ``context``, the principal as ``who`` and the common values."""
        context.setdefault("refresh", None)
        return self.templates.TemplateResponse(
            request, template, status_code=status_code,
            context={"who": who, "may_write": bool(who and who.may(Role.WRITE)), "now": self.now(),
                     "timezone": self.services.config.timezone, "ae_title": self.services.config.server.ae_title,
                     "path": request.url.path, **context},
        )


def get_page(request: Request) -> Page:
    """The app's :class:`Page` renderer (a FastAPI dependency)."""
    page: Page = request.app.state.pages
    return page


PageDep = Annotated[Page, Depends(get_page)]
