"""Who may use the HTTP service: users (argon2id passwords), roles, API tokens and login sessions.

Used by ``pylantir users`` / ``pylantir tokens`` and by the HTTP service's authentication
(:mod:`pylantir.http.auth`). Nothing here has a default: no user, password, token or secret exists until
someone makes it. Tokens are 256 random bits shown once; only their SHA-256 digest is stored.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pylantir.store import ApiToken, Database, ServiceSecret, User
from pylantir.store.models import utcnow
from pylantir.sync.clock import as_utc

#: The environment variable that may hold the service's secret instead of the database (at least 32 characters).
SECRET_ENV = "PYLANTIR_HTTP_SECRET"
MIN_SECRET_LENGTH = 32
MIN_PASSWORD_LENGTH = 12
#: What every token starts with, so that secret scanners and people recognise one.
TOKEN_PREFIX = "pyl_"
_USERNAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when a username is unknown, so that a login takes as long either way."""
    return _hasher.hash(secrets.token_hex(16))


class Role(StrEnum):
    """What a user or token may do; each role may do everything the ones before it may."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        """Whether this role may do what ``needed`` may."""
        order = list(Role)
        return order.index(self) >= order.index(needed)


class TokenKind(StrEnum):
    """An API token for a script, or the session of a login."""

    API = "api"
    SESSION = "session"


class AccountError(ValueError):
    """A user mistake in an account operation (unknown user, weak password...); the message says which."""


def check_username(username: str) -> str:
    """``username`` when usable, else :class:`AccountError` naming the allowed characters."""
    if not _USERNAME.fullmatch(username):
        raise AccountError(f"username {username!r}: use 1-64 letters, digits and . _ @ -")
    return username


def check_password(password: str) -> str:
    """``password`` when long enough, else :class:`AccountError`."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters")
    return password


def parse_role(value: str) -> Role:
    """The :class:`Role` named ``value``, else :class:`AccountError` listing the roles."""
    try:
        return Role(value)
    except ValueError:
        raise AccountError(f"unknown role {value!r}: use one of {', '.join(Role)}") from None


def find_user(session: Session, username: str) -> User | None:
    """The user named ``username``, if any."""
    return session.scalar(select(User).where(User.username == username))


def existing_user(session: Session, username: str) -> User:
    """The user named ``username``, else :class:`AccountError`."""
    user = find_user(session, username)
    if user is None:
        raise AccountError(f"no user named {username!r} (see 'pylantir users list')")
    return user


def add_user(session: Session, username: str, password: str, role: Role) -> User:
    """Add a user; :class:`AccountError` when the name is taken or the password too short."""
    check_username(username)
    check_password(password)
    if find_user(session, username) is not None:
        raise AccountError(f"a user named {username!r} exists already "
                           "(change the password with 'pylantir users passwd')")
    user = User(username=username, password_hash=_hasher.hash(password), role=role.value)
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, username: str, password: str) -> User:
    """Change a user's password; the user's login sessions end (API tokens are kept)."""
    user = existing_user(session, username)
    user.password_hash = _hasher.hash(check_password(password))
    user.password_changed_at = utcnow()
    _revoke_sessions(session, user)
    return user


def remove_user(session: Session, username: str) -> None:
    """Remove a user with their sessions and tokens."""
    session.delete(existing_user(session, username))


def list_users(session: Session) -> Sequence[User]:
    """Every user, by name."""
    return session.scalars(select(User).order_by(User.username)).all()


def verify_login(session: Session, username: str, password: str) -> User | None:
    """The user when ``password`` is theirs, else ``None`` (as slowly for an unknown user as for a wrong password).

    A hash made with older argon2 parameters is replaced by one with today's.
    """
    user = find_user(session, username)
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def token_digest(token: str) -> str:
    """What is stored of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_api_token(
    session: Session, name: str, role: Role, *, expires_at: datetime | None = None, user: User | None = None
) -> tuple[ApiToken, str]:
    """A new API token for scripts: its row and the token itself (shown once, never stored)."""
    if not name.strip() or len(name) > 64:
        raise AccountError("a token needs a name of 1-64 characters (what uses it, e.g. 'nightly-export')")
    token = _new_token()
    row = ApiToken(kind=TokenKind.API.value, name=name, token_digest=token_digest(token), role=role.value,
                   user_id=user.id if user else None, expires_at=expires_at)
    session.add(row)
    session.flush()
    return row, token


def create_session(session: Session, user: User, hours: float) -> tuple[ApiToken, str]:
    """A login session of ``user`` lasting ``hours``: its row and its token (the cookie's value).

    The user's expired and revoked sessions are deleted meanwhile.
    """
    now = utcnow()
    stale = select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.kind == TokenKind.SESSION.value)
    for old in session.scalars(stale):
        if old.revoked_at is not None or (old.expires_at is not None and as_utc(old.expires_at) <= now):
            session.delete(old)
    token = _new_token()
    row = ApiToken(kind=TokenKind.SESSION.value, name=f"login of {user.username}", token_digest=token_digest(token),
                   user_id=user.id, expires_at=now + timedelta(hours=hours))
    session.add(row)
    session.flush()
    return row, token


def find_token(session: Session, token: str, now: datetime) -> ApiToken | None:
    """The live (not revoked, not expired) token row of ``token``, with its user; ``None`` otherwise."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_digest == token_digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and as_utc(row.expires_at) <= now:
        return None
    return row


def token_role(row: ApiToken) -> Role:
    """What a token may do: a session's user's role, an API token's own."""
    if row.kind == TokenKind.SESSION.value:
        assert row.user is not None, "a session belongs to a user"
        return Role(row.user.role)
    return Role(row.role or Role.READ)


def list_api_tokens(session: Session) -> Sequence[ApiToken]:
    """Every API token (not sessions), newest first."""
    return session.scalars(
        select(ApiToken).where(ApiToken.kind == TokenKind.API.value).order_by(ApiToken.id.desc())
    ).all()


def revoke_api_token(session: Session, id_or_name: str) -> ApiToken:
    """Revoke the API token with this ID, or the one live token with this name; :class:`AccountError` otherwise."""
    query = select(ApiToken).where(ApiToken.kind == TokenKind.API.value)
    if id_or_name.isdigit():
        matches = list(session.scalars(query.where(ApiToken.id == int(id_or_name))))
    else:
        matches = list(session.scalars(query.where(ApiToken.name == id_or_name, ApiToken.revoked_at.is_(None))))
    if not matches:
        raise AccountError(f"no API token {id_or_name!r} (see 'pylantir tokens list')")
    if len(matches) > 1:
        raise AccountError(f"{len(matches)} live tokens are named {id_or_name!r}: revoke one by its ID "
                           "(see 'pylantir tokens list')")
    [row] = matches
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def revoke_session(session: Session, row: ApiToken) -> None:
    """End a login session (logout)."""
    if row.revoked_at is None:
        row.revoked_at = utcnow()


def _revoke_sessions(session: Session, user: User) -> None:
    now = utcnow()
    live = select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.kind == TokenKind.SESSION.value,
                                  ApiToken.revoked_at.is_(None))
    for row in session.scalars(live):
        row.revoked_at = now


def service_secret(database: Database, name: str = "http") -> bytes:
    """The service's secret key: ``$PYLANTIR_HTTP_SECRET``, else the one generated at the first start and stored.

    Two instances starting at once on one database keep the same stored secret.
    """
    from_env = os.environ.get(SECRET_ENV)
    if from_env is not None:
        if len(from_env) < MIN_SECRET_LENGTH:
            raise AccountError(f"{SECRET_ENV} is too short: use at least {MIN_SECRET_LENGTH} random characters")
        return from_env.encode()
    with database.session() as session:
        stored = session.get(ServiceSecret, name)
        if stored is not None:
            return stored.value.encode()
    try:
        with database.session() as session:
            session.add(ServiceSecret(name=name, value=secrets.token_hex(32)))
    except IntegrityError:  # another instance stored one first: use it
        pass
    with database.session() as session:
        stored = session.get(ServiceSecret, name)
        assert stored is not None
        return stored.value.encode()
