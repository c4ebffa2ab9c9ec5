"""Authentication of every HTTP request, as FastAPI dependencies that every router uses.

- ``Authorization: Bearer <token>``: an API token (``pylantir tokens create``) or a session's token;
- the session cookie (:data:`SESSION_COOKIE`, ``HttpOnly``, ``SameSite=Lax``, ``Secure`` over HTTPS) set by a
  login; a request that changes something (POST, PUT, PATCH, DELETE) with the cookie must also carry the
  session's CSRF token, in the ``X-CSRF-Token`` header or a ``csrf_token`` form field.

``Depends(require_role(Role.WRITE))`` gives an endpoint the :class:`Principal` or answers 401 (no or a dead
credential) / 403 (a role too low, a missing CSRF token).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response, status
from starlette.concurrency import run_in_threadpool

from pylantir.accounts import Role, TokenKind, find_token, token_role
from pylantir.http.services import Services, ServicesDep

SESSION_COOKIE = "pylantir_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    """Who makes a request: a user (logged in, or by a session's bearer token) or an API token."""

    #: For the audit and the logs: ``user:alice`` or ``token:nightly-export``.
    actor: str
    role: Role
    #: The user's name (``None`` for an API token that belongs to no user).
    username: str | None
    #: ``session`` or ``api``.
    kind: TokenKind
    #: The credential's row ID (a session's, for logout).
    token_id: int
    #: The session's CSRF token (``None`` for API tokens).
    csrf_token: str | None
    #: The client's address, for the audit.
    remote_address: str | None

    def may(self, needed: Role) -> bool:
        """Whether this principal's role allows what ``needed`` allows."""
        return self.role.allows(needed)


def client_address(request: Request) -> str | None:
    """The peer address of the request (no proxy header is trusted)."""
    return request.client.host if request.client else None


def csrf_token(secret: bytes, session_token: str) -> str:
    """The CSRF token of a session: a keyed digest of its token, so that only this server can make it."""
    return hmac.new(secret, b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


def _bearer(request: Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise _unauthorized("the Authorization header must be 'Bearer <token>'")
    return value.strip()


async def _csrf_presented(request: Request) -> str | None:
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        field = (await request.form()).get(CSRF_FIELD)
        presented = field if isinstance(field, str) else None
    return presented


def _principal(services: Services, token: str, address: str | None) -> Principal | None:
    with services.database.session() as session:
        row = find_token(session, token, services.clock.now())
        if row is None:
            return None
        kind = TokenKind(row.kind)
        username = row.user.username if row.user else None
        return Principal(
            actor=f"user:{username}" if kind is TokenKind.SESSION else f"token:{row.name}",
            role=token_role(row),
            username=username,
            kind=kind,
            token_id=row.id,
            csrf_token=csrf_token(services.secret, token) if kind is TokenKind.SESSION else None,
            remote_address=address,
        )


async def authenticate(request: Request, services: ServicesDep) -> Principal:
    """The request's :class:`Principal` (a FastAPI dependency), else 401; 403 for a cookie write without CSRF."""
    bearer = _bearer(request)
    token = bearer or request.cookies.get(SESSION_COOKIE)
    if token is None:
        raise _unauthorized("log in, or send an API token as 'Authorization: Bearer <token>'")
    principal = await run_in_threadpool(_principal, services, token, client_address(request))
    if principal is None:
        raise _unauthorized("the token or session is unknown, expired or revoked")
    if bearer is None and request.method not in SAFE_METHODS:
        presented = await _csrf_presented(request)
        if presented is None or not hmac.compare_digest(presented, principal.csrf_token or ""):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token (send it as "
                                f"{CSRF_HEADER} or the form field {CSRF_FIELD})")
    return principal


async def identify(request: Request, services: ServicesDep) -> Principal | None:
    """The request's :class:`Principal`, or ``None`` when it carries no live credential (a page then redirects
    to its login form instead of answering 401); 403 as in :func:`authenticate`."""
    try:
        return await authenticate(request, services)
    except HTTPException as exc:
        if exc.status_code == status.HTTP_401_UNAUTHORIZED:
            return None
        raise


def require_role(needed: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency giving the :class:`Principal` when its role allows ``needed``, else 403."""

    async def dependency(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.may(needed):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"this needs the {needed.value} role; {principal.actor} has {principal.role.value}")
        return principal

    return dependency


#: The usual dependencies, as parameter types: ``def endpoint(who: Writer)`` gets a principal with the write
#: role (or the request is answered 401/403); ``dependencies=[Depends(READER)]`` on a router guards all of it.
READER = require_role(Role.READ)
WRITER = require_role(Role.WRITE)
ADMIN = require_role(Role.ADMIN)
Reader = Annotated[Principal, Depends(READER)]
Writer = Annotated[Principal, Depends(WRITER)]
Admin = Annotated[Principal, Depends(ADMIN)]
#: ``who: MaybePrincipal``: the principal or ``None`` (see :func:`identify`).
MaybePrincipal = Annotated[Principal | None, Depends(identify)]


def set_session_cookie(response: Response, token: str, services: Services) -> None:
    """Put a new session's token into the session cookie (``HttpOnly``, ``SameSite=Lax``, ``Secure`` with TLS)."""
    http = services.config.http
    response.set_cookie(
        SESSION_COOKIE, token, max_age=int(http.session_hours * 3600), httponly=True, samesite="lax",
        secure=http.tls is not None, path="/",
    )


def clear_session_cookie(response: Response, services: Services) -> None:
    """Remove the session cookie from the browser."""
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=services.config.http.tls is not None)
