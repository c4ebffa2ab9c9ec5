"""Opening the configured database for a command, and what a database failure becomes on the terminal.

Every command opens the database through :func:`open_database`, which records the safe URL (password
hidden) for the invocation; the top-level group (:mod:`pylantir.cli.main`) turns any database failure a
command meets (unreachable, permission, locked, missing file, schema too new or behind) into one line,
``Error: database URL: what happened; what to do``, through :func:`database_problem`: once, for every command.
Only ``run``, ``sync`` and ``db upgrade`` create or migrate a database (``purpose="migrate"``).

SQLAlchemy is imported when a command opens the database, not when the CLI starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import click

if TYPE_CHECKING:
    from pylantir.config import PylantirConfig
    from pylantir.store import Database

_URL_KEY = "pylantir.database_url"

#: What to do, by a phrase of the driver's message (first match wins; checked in lower case).
_NEXT_ACTIONS = (
    ("connection refused", "check database_url (or PYLANTIR_DATABASE_URL)"),
    ("could not connect", "is the database server running and reachable? Check database_url (or "
                          "PYLANTIR_DATABASE_URL)"),
    ("could not translate host name", "the host name is unknown: check database_url (or PYLANTIR_DATABASE_URL)"),
    ("timeout expired", "the database server did not answer in time: is it reachable from this host?"),
    ("password authentication failed", "check the user and password in PYLANTIR_DATABASE_URL"),
    ("does not exist", "create it, or check the name in database_url (or PYLANTIR_DATABASE_URL)"),
    ("permission denied", "the database user lacks a privilege: grant it, or use the user Pylantir's tables "
                          "belong to"),
    ("database is locked", "another process held the write lock for longer than 30 s; try again"),
    ("readonly database", "this user may not write the file or its directory: check their permissions"),
    ("unable to open database file", "check that the directory exists and that this user may read and write it"),
    ("disk i/o error", "check the disk the file is on"),
    ("file is not a database", "the file is not a SQLite database: check database_url"),
)


def open_database(config: PylantirConfig, purpose: Literal["migrate", "current", "inspect"]) -> Database:
    """The configured database for a command.

    ``migrate`` (``run``, ``sync``, ``db upgrade``): the schema is created or upgraded. ``current``: it must
    exist at this version's schema; nothing is created or migrated. ``inspect`` (``db info``): neither
    (nothing is even connected to yet).
    """
    from sqlalchemy.exc import ArgumentError

    from pylantir.store import Database

    url = config.resolved_database_url()
    try:
        database = Database(url, echo=config.database_echo)
    except (ArgumentError, ImportError) as exc:  # unknown dialect, or its driver is not installed
        raise click.ClickException(f"cannot use database_url: {exc}") from exc
    click.get_current_context().meta[_URL_KEY] = database.safe_url()
    try:
        if purpose == "migrate":
            database.upgrade()
        elif purpose == "current":
            database.require_current_schema()
    except BaseException:
        database.close()
        raise
    return database


def database_errors() -> tuple[type[BaseException], ...]:
    """The exception types :func:`database_problem` describes (imported only when an error is handled)."""
    from sqlalchemy.exc import SQLAlchemyError

    from pylantir.store.database import DatabaseMissingError
    from pylantir.store.schema import SchemaError

    return SQLAlchemyError, SchemaError, DatabaseMissingError


def database_problem(ctx: click.Context, exc: BaseException) -> str:
    """One line for a database failure: the safe URL, what happened (the driver's words) and the next action."""
    from pylantir.store.database import failure_detail

    url = ctx.meta.get(_URL_KEY, "(not opened)")
    driver_error = getattr(exc, "orig", None)  # ours (schema, missing file) name their next action already
    detail = failure_detail(exc)
    lowered = detail.lower()
    action = next((action for phrase, action in _NEXT_ACTIONS if phrase in lowered), None) if driver_error else None
    return f"database {url}: {detail}" + (f"; {action}" if action else "")

