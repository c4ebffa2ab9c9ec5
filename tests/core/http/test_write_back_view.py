"""What an operator sees of write-back in a real ``pylantir run``: MPPS over real associations, a plugin from the
plugin directory whose scheduler is down (transient) or refuses the change (permanent), the outbox in a real
SQLite file. The API's source entry and its deliveries list, ``/metrics`` and ``/ready`` follow the changes;
the dashboard's source page shows a failed delivery with its error (headless Chromium, screenshot
``dashboard-write-back.png``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import Site, running
from .test_dashboard import WAIT, Dashboard, chrome, screenshots_directory
from .test_metrics import samples, value

#: Exams from a JSON file; performed steps written back to nowhere: the scheduler is down (transient failure)
#: while the file ``hold`` exists, and refuses every change (permanent failure) while ``refuse`` exists.
PLUGIN = '''
import json
from pathlib import Path

from pylantir import Record, SourceType, TransientSourceError, WriteBackResult, hookimpl


@hookimpl
def source_types():
    return [SourceType("steps", "exams from a JSON file, performed steps refused or held")]


@hookimpl
def fetch_entries(config):
    for row in json.loads(Path(config["file"]).read_text()):
        yield Record(row, f"exam {row['id']}", key={"exam_id": row["id"]})


@hookimpl
def write_back(source_name, settings, changes):
    if Path(settings["hold"]).exists():
        raise TransientSourceError(f"source {source_name}: the scheduler answers 503 Service Unavailable")
    if Path(settings["refuse"]).exists():
        return [WriteBackResult.failed(change, "the scheduler refuses the change: exam is locked (HTTP 403)")
                for change in changes]
    return [WriteBackResult.done(change) for change in changes]
'''
MAPPING = {"pid": "patient_id", "name": "patient_name", "date": "scheduled_start_date",
           "time": "scheduled_start_time", "modality": "modality", "acc": "accession_number"}
PATIENT_DATA = ("Doe^Jane", "Doe", "Jane", "P1")


def write_back_site(site: Site, directory: Path) -> tuple[Path, Path, Path]:
    """Plugin and exams; source ``scheduler`` writes back (fast retries), source ``plain`` does not. Returns the
    plugin directory and the ``hold`` and ``refuse`` switch files."""
    plugins = directory / "plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "steps.py").write_text(PLUGIN)
    exams = directory / "exams.json"
    exams.write_text(json.dumps([{"id": 1, "pid": "P1", "name": "Doe^Jane", "date": date.today().isoformat(),
                                  "time": "09:30", "modality": "MR", "acc": "ACC0001"}]))
    hold, refuse = directory / "hold", directory / "refuse"
    site.settings.update(housekeeping={"enabled": False}, data_sources=[
        {"name": "scheduler", "type": "steps", "sync_interval": 3600, "field_mapping": MAPPING,
         "config": {"file": str(exams)},
         "write_back": {"config": {"hold": str(hold), "refuse": str(refuse)}, "first_retry_seconds": 0.05,
                        "max_retry_seconds": 0.2}},
        {"name": "plain", "type": "steps", "sync_interval": 3600, "field_mapping": MAPPING,
         "config": {"file": str(directory / "none.json")}, "enabled": False},
    ])
    return plugins, hold, refuse


@contextmanager
def serving_write_back(site: Site, plugins: Path) -> Iterator[httpx.Client]:
    """``pylantir run`` with the plugin directory; a read token's client, once the first sync stored the exam."""
    token = site.token("operator", "read")
    with running(site, global_args=("--plugins-dir", str(plugins))), site.client(token) as client:
        poll(lambda: client.get("/api/v1/sources").json()[0]["outcome"] == "success", "the first sync")
        yield client


def poll(check: Callable[[], Any], what: str, timeout: float = WAIT * 3) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return found


def study_uid(client: httpx.Client) -> str:
    [item] = client.get("/api/v1/worklist").json()["items"]
    return str(item["study_instance_uid"])


def bearer(client: httpx.Client) -> dict[str, str]:
    return {"Authorization": client.headers["Authorization"]}


def outbox(client: httpx.Client) -> dict[str, Any]:
    entry: dict[str, Any] = client.get("/api/v1/sources").json()[0]["write_back"]
    return entry


def test_write_back_counts_move_in_the_api_and_metrics(
        site: Site, tmp_path: Path, modality: Callable[..., Any]) -> None:
    plugins, hold, refuse = write_back_site(site, tmp_path)
    hold.touch()
    with serving_write_back(site, plugins) as client:
        assert outbox(client) == {"pending": 0, "done": 0, "superseded": 0, "failed": 0, "oldest_pending": None,
                                  "last_failure": None, "last_failure_at": None, "oldest_pending_seconds": None}
        scanner = modality(site.dicom_port)
        uid = scanner.start(study_uid(client))
        # the scheduler is down: the change stays pending, retried with its error
        listed = poll(lambda: (answer := client.get("/api/v1/sources/scheduler/write-back").json())["changes"]
                      and answer["changes"][0]["attempts"] >= 2 and answer, "failed attempts")
        [pending] = listed["changes"]
        assert pending["state"] == "pending" and pending["status"] == "STARTED"
        assert "503 Service Unavailable" in pending["last_error"]
        assert pending["accession_number"] == "ACC0001" and pending["performed_procedure_step_id"]
        assert pending["entry"] == "acc:ACC0001" and pending["location"] == "exam 1"
        assert pending["next_attempt_at"] and pending["finished_at"] is None
        counts = outbox(client)
        assert counts["pending"] == 1 and counts["oldest_pending_seconds"] >= 0
        metrics = samples(client.get("/metrics").text)
        assert value(metrics, "pylantir_write_back_changes", source="scheduler", state="pending") == 1
        assert value(metrics, "pylantir_write_back_changes", source="scheduler", state="failed") == 0
        assert ("pylantir_write_back_oldest_pending_seconds", (("source", "scheduler"),)) in metrics
        assert not any(labels and dict(labels).get("source") == "plain" for name, labels in metrics
                       if name.startswith("pylantir_write_back")), "a source without write_back has no outbox"

        # the exam ends (the newer change supersedes the pending one); the scheduler answers again, but
        # refuses the change for good: the final state is marked failed, never retried
        scanner.end(uid)
        poll(lambda: outbox(client)["superseded"] == 1, "the end of the exam")
        refuse.touch()
        hold.unlink()
        poll(lambda: outbox(client)["failed"] == 1, "the permanent failure")
        counts = outbox(client)
        assert (counts["pending"], counts["superseded"], counts["done"]) == (0, 1, 0)
        assert counts["last_failure"] == "the scheduler refuses the change: exam is locked (HTTP 403)"
        assert counts["oldest_pending_seconds"] is None
        answer = client.get("/api/v1/sources/scheduler/write-back")
        [failed] = answer.json()["changes"]
        assert failed["state"] == "failed" and failed["status"] == "COMPLETED" and failed["attempts"] >= 1
        assert failed["next_attempt_at"] is None and failed["finished_at"]
        assert not any(data in answer.text for data in PATIENT_DATA), "no patient data in the deliveries"
        every = client.get("/api/v1/sources/scheduler/write-back", params={"state": ["superseded", "failed"]})
        assert [change["state"] for change in every.json()["changes"]] == ["failed", "superseded"]
        metrics_text = client.get("/metrics").text
        metrics = samples(metrics_text)
        for state, expected in {"pending": 0, "done": 0, "superseded": 1, "failed": 1}.items():
            assert value(metrics, "pylantir_write_back_changes", source="scheduler", state=state) == expected
        assert not any(data in metrics_text for data in PATIENT_DATA)

        # the cause is fixed: a write token retries the failed change, and it is delivered
        refuse.unlink()
        retry = f"{site.url}/api/v1/sources/scheduler/write-back/retry"
        assert httpx.post(retry, json={"all_failed": True}, headers=bearer(client)).status_code == 403, "read role"
        writer = {"Authorization": f"Bearer {site.token('lead', 'write')}"}
        assert httpx.post(retry, json={}, headers=writer).status_code == 422
        assert httpx.post(retry, json={"changes": [failed["change"]], "all_failed": True},
                          headers=writer).status_code == 422
        unknown = httpx.post(retry, json={"changes": [999]}, headers=writer)
        assert unknown.status_code == 409 and "there is no change 999" in unknown.json()["detail"]
        retried = httpx.post(retry, json={"changes": [failed["change"]]}, headers=writer)
        assert retried.json() == {"source": "scheduler", "retried": [failed["change"]], "superseded": []}
        poll(lambda: outbox(client)["done"] == 1, "the delivery of the retried change")
        assert outbox(client)["failed"] == 0
        audit = client.get("/api/v1/audit", headers={"Authorization": writer["Authorization"]})
        assert audit.status_code == 403, "the audit is for admins"

        # what is refused: a source without write_back, an unknown source, an unknown state
        assert client.get("/api/v1/sources/plain/write-back").status_code == 404
        assert "does not write back" in client.get("/api/v1/sources/plain/write-back").json()["detail"]
        assert client.get("/api/v1/sources/nowhere/write-back").status_code == 404
        assert client.get("/api/v1/sources/scheduler/write-back", params={"state": "lost"}).status_code == 422
        assert httpx.get(f"{site.url}/api/v1/sources/scheduler/write-back").status_code == 401


def test_a_sole_instance_leads_every_source_in_the_api_ready_and_metrics(site: Site, tmp_path: Path) -> None:
    plugins, _, _ = write_back_site(site, tmp_path)
    with serving_write_back(site, plugins) as client:
        ready = client.get("/ready")
        assert ready.status_code == 200, ready.text
        role = ready.json()["role"]
        assert role["deployment"] == "single-instance" and role["syncs"] is True
        assert (role["leads"], role["follows"]) == (["scheduler"], [])
        scheduler, plain = client.get("/api/v1/sources").json()
        assert scheduler["leadership"]["instance"] == role["instance"] == scheduler["leader"]
        assert scheduler["leadership"]["this_instance"] is True and scheduler["leadership"]["since"]
        assert plain["write_back"] is None
        metrics = samples(client.get("/metrics").text)
        assert value(metrics, "pylantir_source_leader", source="scheduler") == 1
        assert ("pylantir_source_leader", (("source", "plain"),)) not in metrics, "a disabled source has none"
    with running(site, "--no-sync", global_args=("--plugins-dir", str(plugins))), site.client() as anonymous:
        role = anonymous.get("/ready").json()["role"]
        assert role["syncs"] is False and (role["leads"], role["follows"]) == ([], ["scheduler"])


@pytest.fixture(scope="module")
def refused(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Dashboard, Path]]:
    """A browser on a ``pylantir run`` whose source refuses every write-back, after one exam was performed."""
    from datetime import datetime

    from pylantir.dicom.client import Peer, mpps_final, mpps_in_progress

    browser = chrome()
    try:
        directory = tmp_path_factory.mktemp("write-back-page")
        site = Site(directory, f"sqlite:///{directory / 'site.sqlite'}")
        plugins, hold, refuse = write_back_site(site, directory)
        hold.touch()
        site.add_user("desk", "read")
        site.add_user("lead", "write")
        with serving_write_back(site, plugins) as client:
            scanner = Peer("127.0.0.1", site.dicom_port, calling_ae="MR1")
            uid = mpps_in_progress(scanner, study_uid(client), "MR", datetime(2026, 1, 5, 10, 15))
            mpps_final(scanner, uid, "COMPLETED", "T1", datetime(2026, 1, 5, 10, 45))
            poll(lambda: outbox(client)["superseded"] == 1, "the end of the exam")
            refuse.touch()
            hold.unlink()
            poll(lambda: outbox(client)["failed"] == 1, "the refused delivery")
            yield Dashboard(site, browser, screenshots_directory(directory)), refuse
    finally:
        browser.quit()  # type: ignore[attr-defined]


def test_the_source_page_shows_a_failed_delivery_with_its_error(refused: tuple[Dashboard, Path]) -> None:
    dashboard, refuse = refused
    dashboard.log_in("desk")
    dashboard.open("/dashboard/sources")
    assert "scheduler" in dashboard.text("p.error"), "the summary names the source that needs attention"
    alert = dashboard.text("#source-scheduler .write-back-error")
    assert "1 change could not be written back" in alert and "exam is locked (HTTP 403)" in alert
    row = dashboard.text("#source-scheduler table.deliveries tr.delivery-failed")
    assert "failed" in row and "COMPLETED" in row and "ACC0001" in row and "exam is locked" in row
    assert "this instance" in dashboard.text("#source-scheduler .leader")
    assert not any(data in dashboard.text("main") for data in ("Doe", "Jane"))
    assert not dashboard.has("form.retry"), "a read user has no retry button"
    dashboard.log_out()

    # a write user retries once the cause is fixed; the page shows the change written
    dashboard.log_in("lead")
    dashboard.open("/dashboard/sources")
    dashboard.shot("write-back")
    refuse.unlink()
    dashboard.submit("form.retry")
    assert dashboard.browser.current_url.endswith("/dashboard/sources#source-scheduler")  # type: ignore[attr-defined]
    deadline = time.monotonic() + WAIT * 3
    while "Written\n1" not in dashboard.text("#source-scheduler dl.write-back"):
        assert time.monotonic() < deadline, dashboard.text("#source-scheduler")
        time.sleep(0.2)
        dashboard.open("/dashboard/sources")
    assert not dashboard.has("#source-scheduler .write-back-error") and not dashboard.has("p.error")
    assert "every performed-step change was written back" in dashboard.text("#source-scheduler")


def test_a_retry_without_its_csrf_token_is_refused(refused: tuple[Dashboard, Path]) -> None:
    dashboard, _ = refused
    cookies = {"pylantir_session": dashboard.session_cookie()}
    with httpx.Client(base_url=dashboard.site.url, cookies=cookies, timeout=10) as client:
        forged = client.post("/dashboard/sources/scheduler/write-back/retry")
        assert forged.status_code == 403, forged.text
