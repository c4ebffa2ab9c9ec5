"""The role dependencies a router uses (``Reader``, ``Writer``, ``Admin``) over real HTTP: a role below the
endpoint's gets 403 naming both, a role at or above it passes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter

from pylantir.accounts import Role, create_api_token
from pylantir.config import PylantirConfig
from pylantir.http import create_app, start_http
from pylantir.http.auth import Admin, Reader, Writer
from pylantir.store import Database

probe = APIRouter(prefix="/probe")


@probe.get("/read")
def read(who: Reader) -> dict[str, str]:
    return {"actor": who.actor}


@probe.post("/write")
def write(who: Writer) -> dict[str, str]:
    return {"actor": who.actor}


@probe.delete("/admin")
def admin(who: Admin) -> dict[str, str]:
    return {"actor": who.actor}


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[str, dict[Role, str]]]:
    database = Database.open(f"sqlite:///{tmp_path / 'w.sqlite'}")
    config = PylantirConfig.model_validate({"http": {"port": 0}})
    with database.session() as session:
        tokens = {role: create_api_token(session, f"{role.value}-script", role)[1] for role in Role}
    app = create_app(config, database)
    app.include_router(probe)
    http = start_http(app, config.http)
    yield http.url, tokens
    http.shutdown()
    database.close()


@pytest.mark.parametrize(("method", "path", "needed"), [
    ("GET", "/probe/read", Role.READ), ("POST", "/probe/write", Role.WRITE), ("DELETE", "/probe/admin", Role.ADMIN),
])
def test_each_role_reaches_what_it_may_and_no_more(service: tuple[str, dict[Role, str]], method: str, path: str,
                                                   needed: Role) -> None:
    url, tokens = service
    assert httpx.request(method, url + path).status_code == 401
    for role, token in tokens.items():
        answer = httpx.request(method, url + path, headers={"Authorization": f"Bearer {token}"})
        if role.allows(needed):
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"actor": f"token:{role.value}-script"}
        else:
            assert answer.status_code == 403
            assert answer.json()["detail"] == (f"this needs the {needed.value} role; token:{role.value}-script has "
                                               f"{role.value}")
