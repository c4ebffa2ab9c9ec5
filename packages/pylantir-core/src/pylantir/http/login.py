"""Logging in and out: :func:`log_in` (rate-limited, used by the JSON route here and the dashboard's form),
and the routes ``POST /api/v1/auth/login``, ``POST /api/v1/auth/logout``, ``GET /api/v1/auth/me``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from pylantir import audit
from pylantir.accounts import Role, TokenKind, create_session, revoke_session, verify_login
from pylantir.http.auth import (
    Reader,
    clear_session_cookie,
    client_address,
    csrf_token,
    set_session_cookie,
)
from pylantir.http.services import Services, ServicesDep
from pylantir.store import ApiToken
from pylantir.sync.clock import as_utc

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class LoginRefused(Exception):
    """A login that did not succeed: wrong credentials (``retry_after`` 0) or too many failures."""

    def __init__(self, message: str, retry_after: int = 0):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class LoginGrant:
    """A successful login: the session's token (the cookie's value) and what the client may show."""

    token: str
    username: str
    role: Role
    csrf_token: str
    expires_at: datetime


def log_in(services: Services, username: str, password: str, address: str | None, *,
           hours: float | None = None) -> LoginGrant:
    """Check the credentials and open a session of ``hours`` (default ``http.session_hours``);
    :class:`LoginRefused` when wrong or rate-limited.

    Blocking (argon2 and the database): call it from a thread (FastAPI runs sync endpoints in one).
    """
    where = address or "unknown"
    wait = services.throttle.retry_after(where, username)
    if wait:
        raise LoginRefused(f"too many failed logins: try again in {wait} s", wait)
    with services.database.session() as session:
        user = verify_login(session, username, password)
        if user is None:
            services.throttle.failed(where, username)
            log.warning("failed login from %s", where)
            raise LoginRefused("wrong username or password")
        row, token = create_session(session, user, hours or services.config.http.session_hours)
        audit.record(session, actor=f"user:{user.username}", action="session.login", remote_address=address)
        assert row.expires_at is not None
        grant = LoginGrant(token, user.username, Role(user.role), csrf_token(services.secret, token),
                           as_utc(row.expires_at))
    services.throttle.succeeded(username)
    log.info("login of user %s from %s", username, where)
    return grant


class LoginRequest(BaseModel):
    """Credentials of a user made with ``pylantir users add``."""

    username: str
    password: str


class SessionInfo(BaseModel):
    """Who is logged in, until when, and the CSRF token that writes with the session cookie must carry."""

    username: str | None
    role: Role
    csrf_token: str | None
    expires_at: datetime | None = None


@router.post("/login", response_model=SessionInfo, responses={401: {}, 429: {}})
def login(credentials: LoginRequest, request: Request, response: Response, services: ServicesDep) -> SessionInfo:
    """Log in: sets the session cookie and returns the session's CSRF token.

    After 5 failed logins of one username, or 20 from one address, within 5 minutes: 429 with Retry-After.
    """
    try:
        grant = log_in(services, credentials.username, credentials.password, client_address(request))
    except LoginRefused as exc:
        if exc.retry_after:
            raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, str(exc),
                                headers={"Retry-After": str(exc.retry_after)}) from None
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc)) from None
    set_session_cookie(response, grant.token, services)
    return SessionInfo(username=grant.username, role=grant.role, csrf_token=grant.csrf_token,
                       expires_at=grant.expires_at)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(response: Response, principal: Reader, services: ServicesDep) -> None:
    """End the current session (an API token stays valid: revoke it with ``pylantir tokens revoke``)."""

    def end() -> None:
        with services.database.session() as session:
            row = session.get(ApiToken, principal.token_id)
            if row is not None and principal.kind is TokenKind.SESSION:
                revoke_session(session, row)
                audit.record(session, actor=principal.actor, action="session.logout",
                             remote_address=principal.remote_address)

    await run_in_threadpool(end)
    clear_session_cookie(response, services)


@router.get("/me", response_model=SessionInfo)
async def me(principal: Reader) -> SessionInfo:
    """Who the credential belongs to, its role and (for a session) its CSRF token."""
    return SessionInfo(username=principal.username, role=principal.role, csrf_token=principal.csrf_token)
