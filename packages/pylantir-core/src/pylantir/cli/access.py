"""``pylantir users`` and ``pylantir tokens``: who may use the HTTP service (docs/http-api.md).

Passwords are never command-line arguments (they would land in the shell history and the process list):
they are asked for at the terminal, or read from ``$PYLANTIR_PASSWORD`` by scripts. Every change is audited
as ``cli:<login name>``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pylantir.cli.context import cli_actor, config_option, load_config_or_exit
from pylantir.cli.database import open_database
from pylantir.cli.output import print_table

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

PASSWORD_ENV = "PYLANTIR_PASSWORD"
ROLES = click.Choice(["read", "write", "admin"])


@contextmanager
def _accounts(config_path: Path) -> Iterator[Session]:
    """A transaction on the configured database (created or upgraded first); account mistakes become CLI errors
    (database failures are the top-level group's, as for every command)."""
    from pylantir.accounts import AccountError

    database = open_database(load_config_or_exit(config_path), "migrate")
    try:
        with database.session() as session:
            yield session
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        database.close()


def _password(prompt: str) -> str:
    """The new password: ``$PYLANTIR_PASSWORD``, else asked twice at the terminal (never echoed)."""
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env is not None:
        return from_env
    if not sys.stdin.isatty():
        raise click.ClickException(f"no terminal to ask for the password: set {PASSWORD_ENV}")
    answer: str = click.prompt(prompt, hide_input=True, confirmation_prompt=True)
    return answer


def _audited(session: Session, action: str, target: str, changes: dict[str, object] | None = None) -> None:
    from pylantir import audit

    audit.record(session, actor=cli_actor(), action=action, target=target, changes=changes)


@click.group("users")
def users_group() -> None:
    """Users of the HTTP service (dashboard and API) and their roles: read, write, admin."""


@users_group.command("add")
@config_option
@click.argument("username")
@click.option("--role", type=ROLES, default="read", show_default=True,
              help="read: see; write: also add, change and cancel entries, start syncs; admin: also see the audit.")
def users_add(config_path: Path, username: str, role: str) -> None:
    """Add a user; the password is asked for (or read from $PYLANTIR_PASSWORD), at least 12 characters."""
    from pylantir.accounts import Role, add_user, check_username

    check = _user_check(check_username, username)
    password = _password(f"Password for {check}")
    with _accounts(config_path) as session:
        add_user(session, username, password, Role(role))
        _audited(session, "user.add", f"user:{username}", {"role": [None, role]})
    click.echo(f"user {username} added with role {role}")


@users_group.command("list")
@config_option
def users_list(config_path: Path) -> None:
    """List the users with their roles (never their passwords)."""
    from pylantir.accounts import list_users

    with _accounts(config_path) as session:
        rows = [[user.username, user.role, _when(user.created_at), _when(user.password_changed_at)]
                for user in list_users(session)]
    print_table(["user", "role", "created", "password changed"], rows,
                empty="no users yet: add the first admin with 'pylantir users add NAME --role admin'")


@users_group.command("remove")
@config_option
@click.argument("username")
def users_remove(config_path: Path, username: str) -> None:
    """Remove a user; their login sessions and API tokens end with them."""
    from pylantir.accounts import remove_user

    with _accounts(config_path) as session:
        remove_user(session, username)
        _audited(session, "user.remove", f"user:{username}")
    click.echo(f"user {username} removed")


@users_group.command("passwd")
@config_option
@click.argument("username")
@click.option("--role", type=ROLES, help="Also change the user's role.")
def users_passwd(config_path: Path, username: str, role: str | None) -> None:
    """Set a user's password (asked for, or $PYLANTIR_PASSWORD); their login sessions end."""
    from pylantir.accounts import Role, check_username, set_password

    password = _password(f"New password for {_user_check(check_username, username)}")
    with _accounts(config_path) as session:
        user = set_password(session, username, password)
        changes: dict[str, object] = {"password": "changed"}
        if role is not None and role != user.role:
            changes["role"] = [user.role, role]
            user.role = Role(role).value
        _audited(session, "user.passwd", f"user:{username}", changes)
    click.echo(f"password of {username} changed" + (f", role {role}" if role else ""))


def _user_check(check: Callable[[str], str], username: str) -> str:
    """``username`` checked before the password is asked for."""
    from pylantir.accounts import AccountError

    try:
        return check(username)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group("tokens")
def tokens_group() -> None:
    """API tokens for scripts and monitoring: 'Authorization: Bearer <token>'."""


@tokens_group.command("create")
@config_option
@click.argument("name")
@click.option("--role", type=ROLES, default="read", show_default=True, help="What the token may do.")
@click.option("--expires-days", type=click.IntRange(min=1), help="Days until the token expires (default: never).")
@click.option("--user", "username", help="The user the token belongs to (removed with them).")
def tokens_create(config_path: Path, name: str, role: str, expires_days: int | None, username: str | None) -> None:
    """Create an API token named NAME (what uses it) and print it, once: it is not stored, only its digest."""
    from pylantir.accounts import Role, create_api_token, existing_user

    expires = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
    with _accounts(config_path) as session:
        owner = existing_user(session, username) if username else None
        row, token = create_api_token(session, name, Role(role), expires_at=expires, user=owner)
        _audited(session, "token.create", f"token:{row.id}", {"name": [None, name], "role": [None, role]})
        token_id = row.id
    click.echo(f"token {token_id} ({name}, role {role}"
               f"{f', expires {expires:%Y-%m-%d}' if expires else ''}); it is shown only now:", err=True)
    click.echo(token)


@tokens_group.command("list")
@config_option
def tokens_list(config_path: Path) -> None:
    """List the API tokens (never the tokens themselves)."""
    from pylantir.accounts import list_api_tokens

    with _accounts(config_path) as session:
        rows = [[row.id, row.name, row.role, row.user.username if row.user else "", _when(row.created_at),
                 _when(row.expires_at) or "never", _when(row.revoked_at) or ""] for row in list_api_tokens(session)]
    print_table(["id", "name", "role", "user", "created", "expires", "revoked"], rows,
                empty="no API tokens (create one with 'pylantir tokens create NAME --role read')")


@tokens_group.command("revoke")
@config_option
@click.argument("token")
def tokens_revoke(config_path: Path, token: str) -> None:
    """Revoke an API token by its ID or name (see 'pylantir tokens list'); it is refused from then on."""
    from pylantir.accounts import revoke_api_token

    with _accounts(config_path) as session:
        row = revoke_api_token(session, token)
        _audited(session, "token.revoke", f"token:{row.id}")
        token_id, name = row.id, row.name
    click.echo(f"token {token_id} ({name}) revoked")


def _when(moment: datetime | None) -> str | None:
    from pylantir.sync.clock import as_utc

    return None if moment is None else as_utc(moment).strftime("%Y-%m-%d %H:%M UTC")
