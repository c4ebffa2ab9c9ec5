"""Who may do what over HTTP, against a real ``pylantir run``: no credential 401, unknown/revoked/expired token
401, sessions (cookie flags, CSRF on writes, logout, a password change ends them), the login rate limit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import PASSWORD, Site, running


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One running site for the module, with users ada (admin) and rex (read)."""
    directory: Path = tmp_path_factory.mktemp("access")
    site = Site(directory, f"sqlite:///{directory / 'site.sqlite'}")
    site.add_user("ada", "admin")
    site.add_user("rex", "read")
    with running(site, "--no-sync"):
        yield site


def login(site: Site, username: str, password: str = PASSWORD) -> httpx.Response:
    return httpx.post(f"{site.url}/api/v1/auth/login", json={"username": username, "password": password})


def test_no_credential_or_a_malformed_one_gets_401(live: Site) -> None:
    with live.client() as client:
        answer = client.get("/api/v1/auth/me")
        assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
        assert client.get("/api/v1/auth/me", headers={"Authorization": "Basic YWRhOng="}).status_code == 401
        assert client.get("/api/v1/auth/me", headers={"Authorization": "Bearer pyl_not-a-token"}).status_code == 401
    with live.client(cookies={"pylantir_session": "pyl_forged"}) as client:
        assert client.get("/api/v1/auth/me").status_code == 401


def test_a_token_works_until_revoked(live: Site) -> None:
    token = live.token("nightly-export", "read")
    assert token.startswith("pyl_")
    with live.client(token) as client:
        me = client.get("/api/v1/auth/me")
        assert me.status_code == 200, me.text
        assert me.json() == {"username": None, "role": "read", "csrf_token": None, "expires_at": None}
        listed = live.cli("tokens", "list").stdout
        assert "nightly-export" in listed and token not in listed
        live.cli("tokens", "revoke", "nightly-export")
        assert client.get("/api/v1/auth/me").status_code == 401


def test_a_session_cookie_is_httponly_samesite_and_writes_need_the_csrf_token(live: Site) -> None:
    answer = login(live, "rex")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["username"] == "rex" and body["role"] == "read" and len(body["csrf_token"]) == 64
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("pylantir_session=pyl_")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie  # plain HTTP here
    with live.client(cookies=answer.cookies) as browser:
        assert browser.get("/api/v1/auth/me").json()["username"] == "rex"
        refused = browser.post("/api/v1/auth/logout")
        assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
        assert browser.post("/api/v1/auth/logout", headers={"X-CSRF-Token": "0" * 64}).status_code == 403
        assert browser.post("/api/v1/auth/logout", data={"csrf_token": body["csrf_token"]}).status_code == 204
        assert browser.get("/api/v1/auth/me").status_code == 401  # the session ended on the server


def test_a_session_token_as_bearer_needs_no_csrf(live: Site) -> None:
    token = login(live, "ada").cookies["pylantir_session"]
    with live.client(token) as client:
        assert client.post("/api/v1/auth/logout").status_code == 204
        assert client.get("/api/v1/auth/me").status_code == 401


def test_a_password_change_ends_the_users_sessions(live: Site) -> None:
    live.add_user("pat", "write")
    session = login(live, "pat").cookies
    with live.client(cookies=session) as browser:
        assert browser.get("/api/v1/auth/me").status_code == 200
        live.cli("users", "passwd", "pat", password="another long password")
        assert browser.get("/api/v1/auth/me").status_code == 401
    assert login(live, "pat").status_code == 401
    assert login(live, "pat", "another long password").status_code == 200


def test_removing_a_user_ends_their_tokens(live: Site) -> None:
    live.add_user("tom", "read")
    token = live.cli("tokens", "create", "tom-script", "--user", "tom").stdout.strip()
    with live.client(token) as client:
        assert client.get("/api/v1/auth/me").status_code == 200
        live.cli("users", "remove", "tom")
        assert client.get("/api/v1/auth/me").status_code == 401


def test_logins_are_rate_limited_per_username(live: Site) -> None:
    live.add_user("eve", "read")
    for _ in range(5):
        assert login(live, "eve", "wrong password!").status_code == 401
    limited = login(live, "eve")  # even the right password waits now
    assert limited.status_code == 429
    assert 0 < int(limited.headers["retry-after"]) <= 300
    assert "too many failed logins" in limited.json()["detail"]


def test_an_expired_token_is_refused(live: Site) -> None:
    from sqlalchemy import create_engine, text

    token = live.token("short-lived", "read")
    with live.client(token) as client:
        assert client.get("/api/v1/auth/me").status_code == 200
        engine = create_engine(live.database_url)
        with engine.begin() as connection:
            connection.execute(text("UPDATE api_tokens SET expires_at = :past WHERE name = 'short-lived'"),
                               {"past": "2000-01-01 00:00:00.000000"})
        engine.dispose()
        deadline = time.monotonic() + 5
        while client.get("/api/v1/auth/me").status_code != 401:
            assert time.monotonic() < deadline, "the expired token is still accepted"
            time.sleep(0.05)
