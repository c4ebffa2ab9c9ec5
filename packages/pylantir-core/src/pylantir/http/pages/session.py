"""The login form and logging out.

The login form carries its own CSRF token, since there is no session yet: ``GET /login`` sets a short-lived
random cookie and puts a keyed digest of it in the form; ``POST /login`` accepts only the pair (another
site cannot read the cookie, so cannot forge the form). Logins go through the same rate-limited
:func:`pylantir.http.login.log_in` as the API's.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from pylantir.http import login
from pylantir.http.auth import MaybePrincipal, client_address, csrf_token, set_session_cookie
from pylantir.http.pages.rendering import PageDep, Viewer
from pylantir.http.services import ServicesDep

router = APIRouter(include_in_schema=False)
#: The cookie holding the login form's nonce, and how long a login form stays usable.
LOGIN_COOKIE = "pylantir_login"
LOGIN_FORM_SECONDS = 3600
HOME = "/dashboard/worklist"


def _form_token(secret: bytes, nonce: str) -> str:
    return csrf_token(secret, f"login-form:{nonce}")


def _safe_next(target: str | None) -> str:
    """Where to go after the login: a path of this site only (never another host)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return HOME


def _login_form(request: Request, page: PageDep, services: ServicesDep, *, target: str, error: str | None = None,
                username: str = "", status_code: int = 200) -> HTMLResponse:
    nonce = secrets.token_urlsafe(32)
    response = page.render(request, "login.html", None, status_code, next=target, error=error, username=username,
                           csrf_token=_form_token(services.secret, nonce))
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=LOGIN_FORM_SECONDS, httponly=True, samesite="strict",
                        secure=services.config.http.tls is not None, path="/login")
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, who: MaybePrincipal, page: PageDep, services: ServicesDep,
                     next: str | None = None) -> Response:
    """The login form (a browser already logged in goes on to the worklist)."""
    if who is not None:
        return RedirectResponse(_safe_next(next), status.HTTP_303_SEE_OTHER)
    return _login_form(request, page, services, target=_safe_next(next))


@router.post("/login", response_class=HTMLResponse)
async def login_submit(
    request: Request, page: PageDep, services: ServicesDep,
    username: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = HOME,
) -> Response:
    """Check the login form: on success the session cookie and a redirect to the page asked for; else the
    form again with the reason (wrong credentials: 401; too many failures: 429)."""
    target = _safe_next(next)
    nonce = request.cookies.get(LOGIN_COOKIE)
    if not nonce or not hmac.compare_digest(csrf_token, _form_token(services.secret, nonce)):
        return _login_form(request, page, services, target=target, username=username,
                           error="This login form has expired: please log in again.",
                           status_code=status.HTTP_403_FORBIDDEN)
    if not username or not password:
        return _login_form(request, page, services, target=target, username=username,
                           error="Enter your username and password.", status_code=status.HTTP_401_UNAUTHORIZED)
    try:
        grant = await run_in_threadpool(login.log_in, services, username, password, client_address(request))
    except login.LoginRefused as exc:
        limited = exc.retry_after > 0
        response = _login_form(request, page, services, target=target, username=username, error=f"{exc}.",
                               status_code=status.HTTP_429_TOO_MANY_REQUESTS if limited
                               else status.HTTP_401_UNAUTHORIZED)
        if limited:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    redirect = RedirectResponse(target, status.HTTP_303_SEE_OTHER)
    set_session_cookie(redirect, grant.token, services)
    redirect.delete_cookie(LOGIN_COOKIE, path="/login")
    return redirect


@router.post("/logout")
async def logout(who: Viewer, services: ServicesDep) -> Response:
    """End the session (the form carries the session's CSRF token) and go back to the login form."""
    redirect = RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    await login.logout(redirect, who, services)
    return redirect


@router.get("/")
async def home() -> Response:
    """The dashboard starts at today's worklist."""
    return RedirectResponse(HOME, status.HTTP_303_SEE_OTHER)
