"""The dashboard in a real browser (headless Chromium driven by selenium) against a real ``pylantir run``
syncing demo-like CSV exports: log in, see the day's entries by station, add a walk-in and find it over
DICOM with ``pylantir find``, see a failing source's error and a run's rejected rows, see an exam in
progress, a read user sees no write form, and a post without its CSRF token is refused.

Each page's screenshot (PNG) is saved to ``$PYLANTIR_SCREENSHOTS`` (default: the module's temporary
directory); docs/images/dashboard-*.png are these.
"""

from __future__ import annotations

import base64
import csv
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from pylantir.sync.clock import site_today

from ..dicom.conftest import PYLANTIR
from .conftest import PASSWORD, Site, running

pytestmark = pytest.mark.plugin("pylantir-csv")

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS_ENV = "PYLANTIR_SCREENSHOTS"
TIMEZONE = "America/Toronto"
TODAY = site_today(TIMEZONE)
WAIT = 20

MAPPING = {"MRN": "patient_id", "Patient Name": "patient_name", "Birth Date": "patient_birth_date",
           "Sex": "patient_sex", "Modality": "modality", "Station": "scheduled_station_aetitle",
           "Exam Date": "scheduled_start_date", "Exam Time": "scheduled_start_time",
           "Exam": "procedure_description", "Accession": "accession_number"}
# (day offset, time, MRN, name, birth date, sex, modality, station, exam)
BOOKINGS = [
    (0, "08:30", "DEMO0001", "DEMO^ALICE", "1984-03-14", "F", "MR", "MRI_3T", "Brain MRI without contrast"),
    (0, "09:15", "DEMO0002", "DEMO^BOB", "1971-11-02", "M", "MR", "MRI_3T", "Knee MRI, left"),
    (0, "11:00", "DEMO0003", "DEMO^CAROL", "1995-07-21", "F", "CT", "CT_ROOM1", "CT chest low dose"),
    (0, "14:45", "DEMO0004", "DEMO^DAVID", "2001-01-09", "M", "MR", "MRI_3T", "Research protocol, session 2"),
    (0, "15:30", "DEMO0005", "DEMO^ERIN", "31/31/1960", "F", "CT", "CT_ROOM1", "CT abdomen"),  # rejected
    (1, "10:00", "DEMO0006", "DEMO^FRANK", "1988-09-12", "M", "MR", "MRI_3T", "Spine MRI, lumbar"),
]
WALK_IN = {"patient_name": "WALKIN^GRACE", "patient_id": "WALK0001", "patient_sex": "F", "modality": "MR",
           "scheduled_station_aetitle": "MRI_3T", "procedure_description": "Head MRI, urgent"}


def write_bookings(path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(list(MAPPING))
        for number, (offset, time, *fields, station, exam) in enumerate(BOOKINGS, 1):
            mrn, name, birth, sex, modality = fields
            day = (TODAY + timedelta(days=offset)).isoformat()
            writer.writerow([mrn, name, birth, sex, modality, station, day, time, exam, f"ACC{number:05d}"])


@dataclass
class Dashboard:
    site: Site
    browser: object  # selenium.webdriver.Chrome (selenium is imported only when the tools are there)
    screenshots: Path

    def open(self, path: str) -> None:
        self.browser.get(f"{self.site.url}{path}")  # type: ignore[attr-defined]

    def shot(self, name: str) -> Path:
        """A PNG of the whole page, beyond the window's height."""
        shot = self.browser.execute_cdp_cmd(  # type: ignore[attr-defined]
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        path = self.screenshots / f"dashboard-{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def text(self, selector: str = "body") -> str:
        from selenium.webdriver.common.by import By

        return str(self.browser.find_element(By.CSS_SELECTOR, selector).text)  # type: ignore[attr-defined]

    def has(self, selector: str) -> bool:
        from selenium.webdriver.common.by import By

        return bool(self.browser.find_elements(By.CSS_SELECTOR, selector))  # type: ignore[attr-defined]

    def fill(self, values: dict[str, str]) -> None:
        from selenium.webdriver.common.by import By

        for name, value in values.items():
            field = self.browser.find_element(By.ID, name)  # type: ignore[attr-defined]
            field.clear()
            field.send_keys(value)

    def submit(self, form: str) -> None:
        """Click the form's button and wait for the answer's page to replace this one."""
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.wait import WebDriverWait

        browser = self.browser
        browser.execute_script("window.pylantirOldPage = true")  # type: ignore[attr-defined]
        browser.find_element(By.CSS_SELECTOR, f"{form} button[type=submit]").click()  # type: ignore[attr-defined]
        WebDriverWait(browser, WAIT, ignored_exceptions=[WebDriverException]).until(
            lambda driver: driver.execute_script(
                "return window.pylantirOldPage === undefined && document.readyState === 'complete'"))

    def log_in(self, username: str, password: str = PASSWORD) -> None:
        self.open("/login")
        self.fill({"username": username, "password": password})
        self.submit("main form")

    def log_out(self) -> None:
        self.submit("header form")

    def session_cookie(self) -> str:
        cookie = self.browser.get_cookie("pylantir_session")  # type: ignore[attr-defined]
        assert cookie, "no session cookie after the login"
        return str(cookie["value"])


def chrome() -> object:
    """Headless Chromium through selenium (skips the test, with the reason, where either is missing)."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip(f"the browser tests need Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER})")
    webdriver = pytest.importorskip("selenium.webdriver", reason="the browser tests need selenium installed")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1600,900", "--lang=en-GB", "--disable-extensions", "--no-first-run"):
        options.add_argument(argument)
    return webdriver.Chrome(service=webdriver.ChromeService(str(CHROMEDRIVER)), options=options)


def screenshots_directory(directory: Path) -> Path:
    """Where screenshots go: ``$PYLANTIR_SCREENSHOTS``, else ``screenshots`` in ``directory`` (created)."""
    screenshots = Path(os.environ.get(SCREENSHOTS_ENV) or directory / "screenshots")
    screenshots.mkdir(parents=True, exist_ok=True)
    return screenshots


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """One ``pylantir run`` (a CSV source, a source whose file is missing) and one browser for the module."""
    browser = chrome()
    try:
        directory = tmp_path_factory.mktemp("dashboard")
        screenshots = screenshots_directory(directory)
        bookings = directory / "bookings.csv"
        write_bookings(bookings)
        site = Site(directory, f"sqlite:///{directory / 'site.sqlite'}")
        site.settings.update(timezone=TIMEZONE, data_sources=[
            {"name": "ris", "type": "csv", "sync_interval": 3600, "config": {"file_path": str(bookings)},
             "field_mapping": MAPPING},
            {"name": "ris_backup", "type": "csv", "sync_interval": 3600,
             "config": {"file_path": str(directory / "missing.csv")}, "field_mapping": MAPPING},
        ])
        site.add_user("desk", "write")
        site.add_user("viewer", "read")
        probe = site.token("probe", "read")
        with running(site):
            with site.client(probe) as client:
                wait_for_first_syncs(client)
            yield Dashboard(site, browser, screenshots)
    finally:
        browser.quit()  # type: ignore[attr-defined]


def wait_for_first_syncs(client: httpx.Client) -> None:
    import time

    deadline = time.monotonic() + WAIT
    while not all(source["outcome"] for source in client.get("/api/v1/sources").json()):
        assert time.monotonic() < deadline, "the first syncs did not finish"
        time.sleep(0.1)


def pylantir_find(site: Site, *args: str) -> list[dict[str, object]]:
    result = subprocess.run([*PYLANTIR, "find", "127.0.0.1", str(site.dicom_port), "--json", *args],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    found: list[dict[str, object]] = json.loads(result.stdout)
    return found


def test_login_form_refuses_a_wrong_password(dashboard: Dashboard) -> None:
    dashboard.open("/dashboard/worklist")
    assert dashboard.browser.current_url.endswith("/login")  # type: ignore[attr-defined]
    assert not dashboard.has("header nav")
    dashboard.shot("login")
    dashboard.log_in("desk", "not the password at all")
    assert "wrong username or password" in dashboard.text(".error")
    assert dashboard.browser.get_cookie("pylantir_session") is None  # type: ignore[attr-defined]


def test_worklist_shows_the_days_entries_by_station(dashboard: Dashboard) -> None:
    dashboard.log_in("desk")
    assert dashboard.browser.current_url.endswith("/dashboard/worklist")  # type: ignore[attr-defined]
    from selenium.webdriver.common.by import By

    headings = dashboard.browser.find_elements(By.CSS_SELECTOR, "section.station h2")  # type: ignore[attr-defined]
    assert [heading.text for heading in headings] == ["CT_ROOM1 1", "MRI_3T 3"]
    page = dashboard.text("main")
    for name in ("DEMO, ALICE", "DEMO, BOB", "DEMO, CAROL", "DEMO, DAVID"):
        assert name in page
    assert "DEMO, FRANK" not in page, "tomorrow's exam is not on today's list"
    assert "DEMO, ERIN" not in page, "the rejected row is not on the worklist"
    assert "4 exams" in page and "4 scheduled" in page
    assert f"Times in {TIMEZONE}" in dashboard.text("footer")
    dashboard.shot("worklist")
    dashboard.open(f"/dashboard/worklist?day={TODAY + timedelta(days=1)}")
    assert "DEMO, FRANK" in dashboard.text("main")


def test_walk_in_problems_are_shown_beside_their_fields(dashboard: Dashboard) -> None:
    dashboard.open("/dashboard/walk-in")
    dashboard.shot("walk-in")
    dashboard.fill({**WALK_IN, "patient_sex": "Q", "modality": ""})
    dashboard.submit("form.walkin")
    assert "not a recognised sex" in dashboard.text("#patient_sex-error")
    assert "required" in dashboard.text("#modality-error")
    assert not dashboard.has("#patient_name-error")
    dashboard.shot("walk-in-errors")
    assert pylantir_find(dashboard.site, "--patient-id", WALK_IN["patient_id"]) == []


def test_walk_in_is_found_over_dicom(dashboard: Dashboard) -> None:
    dashboard.open("/dashboard/walk-in")
    dashboard.fill(WALK_IN)
    dashboard.submit("form.walkin")
    assert "/dashboard/worklist?day=" in dashboard.browser.current_url  # type: ignore[attr-defined]
    assert "WALKIN, GRACE" in dashboard.text("tr.added")
    assert "manual" in dashboard.text("tr.added")
    found = pylantir_find(dashboard.site, "--patient-id", WALK_IN["patient_id"], "--date", "today",
                          "--timezone", TIMEZONE)
    assert [item["PatientName"] for item in found] == ["WALKIN^GRACE"]


def test_sources_show_a_failing_sources_error_and_a_runs_rejected_rows(dashboard: Dashboard) -> None:
    dashboard.open("/dashboard/sources")
    assert "ris_backup" in dashboard.text("p.error")
    failing = dashboard.text("#source-ris_backup")
    assert "missing.csv" in failing and "does not exist" in failing
    assert "failed" in failing
    healthy = dashboard.text("#source-ris")
    assert "Last success" in healthy and "ago" in healthy and "Next run" in healthy
    dashboard.shot("sources")
    from selenium.webdriver.common.by import By

    dashboard.browser.find_element(By.LINK_TEXT, "rejected rows").click()  # type: ignore[attr-defined]
    rejected = dashboard.text("table.rejected")
    assert "patient_birth_date" in rejected and "31/31/1960" not in rejected
    assert "5 inserted" in dashboard.text("main") and "1 rejected" in dashboard.text("main")
    dashboard.shot("rejected-rows")


def test_an_exam_in_progress_is_shown(dashboard: Dashboard) -> None:
    dashboard.open("/dashboard/mpps")
    assert "No exam is in progress" in dashboard.text(".empty")
    [alice] = pylantir_find(dashboard.site, "--patient-id", "DEMO0001")
    created = subprocess.run([*PYLANTIR, "mpps", "create", "127.0.0.1", str(dashboard.site.dicom_port),
                              "--calling-ae", "MRI_3T", "--study-uid", str(alice["StudyInstanceUID"])],
                             capture_output=True, text=True, timeout=60, check=False)
    assert created.returncode == 0, created.stderr
    dashboard.open("/dashboard/mpps")
    row = dashboard.text("table.mpps tbody tr")
    assert "DEMO, ALICE" in row and "MRI_3T" in row and "in progress" in row
    dashboard.shot("mpps")
    dashboard.open("/dashboard/worklist")
    assert "in progress" in dashboard.text("main")


def test_a_post_without_its_csrf_token_is_refused(dashboard: Dashboard) -> None:
    cookies = {"pylantir_session": dashboard.session_cookie()}
    with httpx.Client(base_url=dashboard.site.url, cookies=cookies, timeout=10) as client:
        assert client.get("/dashboard/walk-in").status_code == 200
        forged = client.post("/dashboard/walk-in", data={**WALK_IN, "patient_id": "FORGED01"})
        assert forged.status_code == 403, forged.text
        assert client.post("/logout").status_code == 403
    with httpx.Client(base_url=dashboard.site.url, timeout=10) as client:
        no_form = client.post("/login", data={"username": "desk", "password": PASSWORD})
        assert no_form.status_code == 403 and "pylantir_session" not in no_form.cookies
    assert pylantir_find(dashboard.site, "--patient-id", "FORGED01") == []


def test_a_read_user_sees_no_write_form(dashboard: Dashboard) -> None:
    dashboard.log_out()
    assert dashboard.browser.current_url.endswith("/login")  # type: ignore[attr-defined]
    dashboard.log_in("viewer")
    assert "DEMO, ALICE" in dashboard.text("main")
    assert "Add walk-in" not in dashboard.text("header")
    assert not dashboard.has("form.walkin")
    dashboard.open("/dashboard/walk-in")
    assert not dashboard.has("form.walkin")
    assert "needs the write role" in dashboard.text("main")


def test_screenshots_were_taken(dashboard: Dashboard) -> None:
    names = sorted(path.name for path in dashboard.screenshots.glob("dashboard-*.png")
                   if path.name != "dashboard-write-back.png")  # test_write_back_view's, when in the same place
    assert names == sorted(f"dashboard-{name}.png" for name in (
        "login", "worklist", "walk-in", "walk-in-errors", "sources", "rejected-rows", "mpps"))
