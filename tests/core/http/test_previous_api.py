"""The previous Pylantir's API and its ``pylantir start-api`` command, answered as there: a real ``start-api``
process (HTTP only) and its scripts' calls over real HTTP."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from pylantir.sync.clock import site_today

from ..dicom.conftest import PYLANTIR
from .conftest import PASSWORD, Site, wait_for_http

TODAY = site_today("UTC").strftime("%Y%m%d")


@pytest.fixture
def api(site: Site) -> Iterator[Site]:
    """``pylantir start-api --api-host 127.0.0.1 --api-port P --pylantir_config C`` with users ada (admin) and
    rex (read)."""
    site.add_user("ada", "admin")
    site.add_user("rex", "read")
    command = [*PYLANTIR, "start-api", "--api-host", "127.0.0.1", "--api-port", str(site.http_port),
               "--pylantir_config", str(site.config)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_http(site.url, process, time.monotonic() + 30)
        yield site
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _out, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0, err
    assert "pylantir start-api: the previous Pylantir's command" in err and "no DICOM, no sync" in err


def token(site: Site, username: str, **extra: object) -> str:
    answer = httpx.post(f"{site.url}/auth/login", json={"username": username, "password": PASSWORD, **extra})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "bearer"
    return str(body["access_token"])


ITEM = {"patient_name": "Walker^Ann", "patient_id": "W1", "patient_birth_date": "19900506", "patient_sex": "F",
        "modality": "MR", "scheduled_station_aetitle": "MR1", "scheduled_start_date": TODAY,
        "scheduled_start_time": "101500", "study_description": "Brain", "accession_number": "A1"}


def test_the_previous_scripts_work_against_start_api(api: Site) -> None:
    assert httpx.get(f"{api.url}/health").json()["status"] == "healthy"
    ready = httpx.get(f"{api.url}/ready").json()  # no DICOM expected
    assert (ready["status"], ready["reasons"], ready["role"]["deployment"]) == ("ready", [], "single-instance")
    wrong = httpx.post(f"{api.url}/auth/login", json={"username": "ada", "password": "nope, not it"})
    assert wrong.status_code == 401 and wrong.json() == {"detail": "Invalid username or password"}
    admin = {"Authorization": f"Bearer {token(api, 'ada')}"}
    with httpx.Client(base_url=api.url, headers=admin) as client:
        created = client.post("/worklist", json=ITEM)
        assert created.status_code == 200, created.text
        item = created.json()
        assert item["performed_procedure_step_status"] == "SCHEDULED" and item["data_source"] == "manual"
        assert item["study_description"] == "Brain" and item["study_instance_uid"]
        listed = client.get("/worklist", params={"patient_id": "w"}).json()
        assert [entry["id"] for entry in listed] == [item["id"]]
        assert client.get("/worklist", params={"status": "COMPLETED"}).json() == []
        assert client.get("/worklist", params={"status": "DONE"}).status_code == 422
        moved = client.put(f"/worklist/{item['id']}", json={"scheduled_start_time": "111500",
                                                             "performed_procedure_step_status": "IN_PROGRESS"})
        assert moved.status_code == 200, moved.text
        assert moved.json()["scheduled_start_time"] == "111500"
        assert moved.json()["performed_procedure_step_status"] == "IN_PROGRESS"
        assert client.get("/worklist").json()[0]["id"] == item["id"]  # SCHEDULED and IN_PROGRESS by default
        assert client.put("/worklist/9999", json={"modality": "CT"}).status_code == 404
        deleted = client.delete(f"/worklist/{item['id']}")
        assert deleted.json() == {"message": f"Worklist item {item['id']} deleted successfully"}
        assert client.delete(f"/worklist/{item['id']}").status_code == 404

        users = client.get("/users").json()
        assert {user["username"] for user in users} == {"ada", "rex"}
        assert all(user["is_active"] and "password" not in str(user) for user in users)
        added = client.post("/users", json={"username": "pat", "password": "a long enough one", "role": "write"})
        assert added.status_code == 200 and added.json()["role"] == "write"
        assert client.post("/users", json={"username": "pat", "password": "a long enough one"}).status_code == 400
        assert client.post("/users", json={"username": "tim", "password": "short"}).status_code == 422
        pat = added.json()["id"]
        assert client.put(f"/users/{pat}", json={"role": "read"}).json()["role"] == "read"
        own = next(user["id"] for user in users if user["username"] == "ada")
        assert client.delete(f"/users/{own}").json() == {"detail": "Cannot delete your own account"}
        assert client.delete(f"/users/{pat}").json() == {"message": "User pat deleted successfully"}
        events = {event["action"] for event in client.get("/api/v1/audit").json()}
        assert {"worklist.create", "worklist.update", "worklist.status", "worklist.delete", "user.add",
                "user.update", "user.remove"} <= events


def test_the_previous_roles_hold(api: Site) -> None:
    reader = {"Authorization": f"Bearer {token(api, 'rex', access_token_expire_minutes=5)}"}
    with httpx.Client(base_url=api.url, headers=reader) as client:
        assert client.get("/worklist").status_code == 200
        assert client.post("/worklist", json=ITEM).status_code == 403
        assert client.delete("/worklist/1").status_code == 403
        assert client.get("/users").status_code == 403
    assert httpx.get(f"{api.url}/worklist").status_code == 401
