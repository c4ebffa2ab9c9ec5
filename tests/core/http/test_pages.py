"""The dashboard's pages over real HTTP (httpx) against a real ``pylantir run`` with no source, with only the
core installed: the login form and its CSRF pair, the redirect to it, role boundaries, the walk-in form's
answers (problems beside their fields, 409 for an entry the worklist has), and the empty states. The
browser tests (test_dashboard.py) cover what a person sees."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest

from pylantir.sync.clock import site_today

from .conftest import PASSWORD, Site, running

WALK_IN = {"patient_name": "WALKIN^HENRY", "patient_id": "WALK0100", "modality": "CT",
           "scheduled_station_aetitle": "CT_ROOM1", "scheduled_start_date": site_today("UTC").isoformat(),
           "scheduled_start_time": "10:30"}


@dataclass
class Live:
    site: Site

    def browser(self) -> httpx.Client:
        """A client that keeps cookies, as a browser does (redirects not followed: the tests look at them)."""
        return httpx.Client(base_url=self.site.url, timeout=10)

    @contextmanager
    def logged_in(self, username: str) -> Iterator[tuple[httpx.Client, str]]:
        """A client logged in through the form, and its session's CSRF token (from the page's logout form)."""
        with self.browser() as client:
            form = client.get("/login")
            answer = client.post("/login", data={"username": username, "password": PASSWORD,
                                                 "csrf_token": form_token(form.text), "next": "/dashboard/worklist"})
            assert answer.status_code == 303, answer.text
            assert answer.headers["location"] == "/dashboard/worklist"
            yield client, form_token(client.get("/dashboard/worklist").text)


def form_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    directory = tmp_path_factory.mktemp("pages")
    site = Site(directory, f"sqlite:///{directory / 'site.sqlite'}")
    site.add_user("desk", "write")
    site.add_user("viewer", "read")
    with running(site):
        yield Live(site)


def test_pages_send_a_browser_without_a_login_to_the_form_and_back(live: Live) -> None:
    with live.browser() as client:
        assert client.get("/").headers["location"] == "/dashboard/worklist"
        answer = client.get("/dashboard/sources")
        assert answer.status_code == 303 and answer.headers["location"] == "/login?next=%2Fdashboard%2Fsources"
        assert client.get("/dashboard/worklist").headers["location"] == "/login"
        form = client.get("/login?next=/dashboard/sources")
        assert form.status_code == 200 and 'value="/dashboard/sources"' in form.text
        assert "httponly" in form.headers["set-cookie"].lower()
        assert client.get("/login?next=//elsewhere.example/").text.count('value="/dashboard/worklist"') == 1
        assert client.get("/static/dashboard.css").status_code == 200
        assert client.get("/worklist").status_code == 401, "the previous Pylantir's GET /worklist stays the API's"


def test_the_login_form_needs_its_own_csrf_pair(live: Live) -> None:
    with live.browser() as client:
        token = form_token(client.get("/login").text)
    with live.browser() as other:  # the token without the cookie it belongs to: a forged form
        forged = other.post("/login", data={"username": "desk", "password": PASSWORD, "csrf_token": token})
        assert forged.status_code == 403 and "expired" in forged.text
        assert "pylantir_session" not in forged.cookies
    with live.browser() as client:
        form = client.get("/login")
        wrong = client.post("/login", data={"username": "desk", "password": "not it at all",
                                            "csrf_token": form_token(form.text)})
        assert wrong.status_code == 401 and "wrong username or password" in wrong.text
        assert 'value="desk"' in wrong.text, "the form keeps the username"


def test_a_read_user_gets_no_write_form(live: Live) -> None:
    with live.logged_in("viewer") as (client, csrf):
        worklist = client.get("/dashboard/worklist")
        assert worklist.status_code == 200 and "/dashboard/walk-in" not in worklist.text
        refused = client.get("/dashboard/walk-in")
        assert refused.status_code == 403 and "needs the write role" in refused.text
        posted = client.post("/dashboard/walk-in", data={**WALK_IN, "csrf_token": csrf})
        assert posted.status_code == 403
        session = client.cookies["pylantir_session"]
        logout = client.post("/logout", data={"csrf_token": csrf})
        assert logout.status_code == 303 and logout.headers["location"] == "/login"
    with live.browser() as replay:
        replay.cookies.set("pylantir_session", session)
        assert replay.get("/dashboard/worklist").status_code == 303, "the session ended on the server"


def test_walk_in_form_answers(live: Live) -> None:
    with live.logged_in("desk") as (client, csrf):
        assert client.post("/dashboard/walk-in", data=WALK_IN).status_code == 403, "a post without the CSRF token"
        bad = client.post("/dashboard/walk-in",
                          data={**WALK_IN, "patient_sex": "Q", "modality": "", "csrf_token": csrf})
        assert bad.status_code == 422
        assert re.search(r'id="patient_sex-error">[^<]*not a recognised sex', bad.text)
        assert re.search(r'id="modality-error">[^<]*required', bad.text)
        assert 'value="WALKIN^HENRY"' in bad.text, "the form keeps what was typed"
        added = client.post("/dashboard/walk-in", data={**WALK_IN, "csrf_token": csrf})
        assert added.status_code == 303, added.text
        day = WALK_IN["scheduled_start_date"]
        assert added.headers["location"].startswith(f"/dashboard/worklist?day={day}&added=")
        worklist = client.get(added.headers["location"])
        assert 'class="added"' in worklist.text and "WALKIN, HENRY" in worklist.text
        again = client.post("/dashboard/walk-in", data={**WALK_IN, "csrf_token": csrf})
        assert again.status_code == 409 and "already has this entry" in again.text


def test_empty_states(live: Live) -> None:
    with live.logged_in("viewer") as (client, _):
        assert "No source is configured" in client.get("/dashboard/sources").text
        assert "No exam is in progress" in client.get("/dashboard/mpps").text
        assert "No exams are scheduled on this day" in client.get("/dashboard/worklist?day=2001-01-01").text
        not_a_day = client.get("/dashboard/worklist?day=yesterday")
        assert not_a_day.status_code == 400 and "is not a date: give it as YYYY-MM-DD" in not_a_day.text
        missing = client.get("/dashboard/sources/ris/runs/12345")
        assert missing.status_code == 404 and "has no sync run 12345" in missing.text
