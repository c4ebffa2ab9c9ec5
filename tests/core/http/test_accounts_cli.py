"""``pylantir users`` and ``pylantir tokens``: passwords from the terminal or $PYLANTIR_PASSWORD only, clear
errors, argon2id hashes and token digests stored (never the secrets), every change audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text

from pylantir.cli.main import cli

from .conftest import PASSWORD


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "pylantir.json"
    path.write_text(json.dumps({"database_url": f"sqlite:///{tmp_path / 'site.sqlite'}"}))
    return path


def invoke(config: Path, *args: str, password: str | None = None) -> Result:
    env = {"PYLANTIR_PASSWORD": password} if password is not None else {}
    return CliRunner().invoke(cli, [*args, "--config", str(config)], env=env)


def rows(config: Path, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(json.loads(config.read_text())["database_url"])
    with engine.connect() as connection:
        found = [tuple(row) for row in connection.execute(text(sql))]
    engine.dispose()
    return found


def test_the_first_admin_before_the_first_start(config: Path) -> None:
    """The database is created by the command itself; the hash is argon2id, never the password."""
    result = invoke(config, "users", "add", "ada", "--role", "admin", password=PASSWORD)
    assert result.exit_code == 0, result.output
    assert "user ada added with role admin" in result.output
    [(stored, role)] = rows(config, "SELECT password_hash, role FROM users WHERE username = 'ada'")
    assert stored.startswith("$argon2id$") and PASSWORD not in stored and role == "admin"
    listed = invoke(config, "users", "list").output
    assert "ada" in listed and "admin" in listed and "argon2" not in listed


@pytest.mark.parametrize(("args", "password", "message"), [
    (["users", "add", "bob"], None, "no terminal to ask for the password: set PYLANTIR_PASSWORD"),
    (["users", "add", "bob"], "short", "the password is too short: use at least 12 characters"),
    (["users", "add", "bob smith"], PASSWORD, "username 'bob smith': use 1-64 letters, digits and . _ @ -"),
    (["users", "add", "bob", "--role", "root"], PASSWORD, "'root' is not one of 'read', 'write', 'admin'"),
    (["users", "passwd", "nobody"], PASSWORD, "no user named 'nobody' (see 'pylantir users list')"),
    (["users", "remove", "nobody"], None, "no user named 'nobody'"),
    (["tokens", "revoke", "nothing"], None, "no API token 'nothing' (see 'pylantir tokens list')"),
    (["tokens", "create", "x", "--user", "nobody"], None, "no user named 'nobody'"),
])
def test_mistakes_are_named_without_a_traceback(config: Path, args: list[str], password: str | None,
                                                message: str) -> None:
    result = invoke(config, *args, password=password)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert user_count(config) == 0


def user_count(config: Path) -> int:
    """Users stored (0 also when the command stopped before creating the database)."""
    database = config.parent / "site.sqlite"
    return int(rows(config, "SELECT count(*) FROM users")[0][0]) if database.exists() else 0


def test_a_taken_username_is_refused(config: Path) -> None:
    assert invoke(config, "users", "add", "ada", password=PASSWORD).exit_code == 0
    result = invoke(config, "users", "add", "ada", password=PASSWORD)
    assert result.exit_code == 1 and "a user named 'ada' exists already" in result.output


def test_tokens_are_shown_once_stored_as_digests_and_every_change_is_audited(config: Path) -> None:
    invoke(config, "users", "add", "ada", "--role", "admin", password=PASSWORD)
    created = invoke(config, "tokens", "create", "nightly-export", "--role", "write", "--expires-days", "30")
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("pyl_") and len(token) > 40
    [(digest,)] = rows(config, "SELECT token_digest FROM api_tokens")
    assert token not in digest and len(digest) == 64
    listed = invoke(config, "tokens", "list").output
    assert "nightly-export" in listed and "write" in listed and token not in listed
    assert invoke(config, "tokens", "revoke", "nightly-export").exit_code == 0
    assert "revoked" in invoke(config, "tokens", "list").output.lower()
    assert invoke(config, "users", "passwd", "ada", "--role", "write", password="a different long one").exit_code == 0
    assert invoke(config, "users", "remove", "ada").exit_code == 0
    events = rows(config, "SELECT actor, action, target FROM audit_events ORDER BY id")
    assert [action for _, action, _ in events] == ["user.add", "token.create", "token.revoke", "user.passwd",
                                                   "user.remove"]
    assert all(actor.startswith("cli:") for actor, _, _ in events)
    [(changes,)] = rows(config, "SELECT changes FROM audit_events WHERE action = 'user.passwd'")
    assert json.loads(changes) == {"password": "changed", "role": ["admin", "write"]}
    assert PASSWORD not in str(rows(config, "SELECT * FROM audit_events"))
