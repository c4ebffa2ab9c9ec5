"""The dashboard: server-rendered pages (Jinja2 templates in ``pylantir/http/templates``, a style sheet in
``pylantir/http/static``) for site staff, over the same search, walk-in and source-health functions as the
API. :func:`mount_pages` adds them to the app."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI, Request, status
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from pylantir.http.pages import operations, session, worklist
from pylantir.http.pages.rendering import STATIC, LoginRequired, Page, PageRefused
from pylantir.http.services import Services


def mount_pages(app: FastAPI, services: Services) -> None:
    """The pages at ``/``, ``/login``, ``/worklist``, ``/walk-in``, ``/sources``, ``/mpps``; ``/static``."""
    page = Page(services)
    app.state.pages = page

    async def to_login(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        target = "/login" if exc.path == session.HOME else f"/login?{urlencode({'next': exc.path})}"
        return RedirectResponse(target, status.HTTP_303_SEE_OTHER)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageRefused)
        return page.render(request, "message.html", exc.who, status.HTTP_403_FORBIDDEN, title="Not allowed",
                           message=str(exc))

    app.add_exception_handler(LoginRequired, to_login)
    app.add_exception_handler(PageRefused, refused)
    for router in (session.router, worklist.router, operations.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
