"""``/api/v1``, against a real ``pylantir run`` syncing a real source (a plugin file from --plugins-dir) and
answering real DICOM: search with C-FIND's matching, an item's lineage and MPPS history, walk-ins found by a
C-FIND, updates, cancelling, the scanner view, sources with runs and rejected rows, sync now, MPPS, the
audit, and every role boundary."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydicom import Dataset
from pydicom.sequence import Sequence

from pylantir.dicom.client import Peer, find
from pylantir.sync.clock import site_today

from ..dicom.test_run_logs import mpps
from .conftest import Site, running

ROWS_PLUGIN = '''
import json
from pylantir import SourceType, hookimpl

@hookimpl
def source_types():
    return [SourceType("rowsfile", "rows from a JSON file")]

@hookimpl
def fetch_entries(config):
    with open(config["path"]) as handle:
        yield from json.load(handle)
'''
MAPPING = {"pid": "patient_id", "name": "patient_name", "dob": "patient_birth_date", "date": "scheduled_start_date",
           "time": "scheduled_start_time", "modality": "modality", "station": "scheduled_station_aetitle",
           "acc": "accession_number"}
TODAY = site_today("UTC")


def row(number: int, **changes: Any) -> dict[str, Any]:
    base = {"pid": f"P{number:03d}", "name": f"Family{number}^Given{number}", "dob": "1980-02-03",
            "date": TODAY.isoformat(), "time": f"{8 + number:02d}:00", "modality": "MR", "station": "MR1",
            "acc": f"ACC{number:03d}"}
    return {**base, **changes}


ROWS = [
    row(1, name="Doe^Jane"),
    row(2, name="DOE^JOHN", station="MR2"),
    row(3, modality="CT", station="CT1"),
    row(4, date=(TODAY + timedelta(days=1)).isoformat()),
    row(5, dob="not a date"),  # rejected
]


@dataclass
class Live:
    site: Site
    rows_file: Path
    tokens: dict[str, str]

    def api(self, role: str) -> httpx.Client:
        return self.site.client(self.tokens[role])

    @property
    def peer(self) -> Peer:
        return Peer("127.0.0.1", self.site.dicom_port, calling_ae="MR1", timeout=10)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    directory = tmp_path_factory.mktemp("api")
    plugins = directory / "plugins"
    plugins.mkdir()
    (plugins / "rowsfile.py").write_text(ROWS_PLUGIN)
    rows_file = directory / "rows.json"
    rows_file.write_text(json.dumps(ROWS))
    site = Site(directory, f"sqlite:///{directory / 'site.sqlite'}")
    site.settings["data_sources"] = [{"name": "ris", "type": "rowsfile", "sync_interval": 3600,
                                      "config": {"path": str(rows_file)}, "field_mapping": MAPPING}]
    tokens = {role: site.token(f"{role}-script", role) for role in ("read", "write", "admin")}
    with running(site, global_args=("--plugins-dir", str(plugins))):
        live = Live(site, rows_file, tokens)
        with live.api("read") as client:
            deadline = time.monotonic() + 30
            while client.get("/api/v1/worklist").json()["total"] < 4:
                assert time.monotonic() < deadline, "the first sync did not finish"
                time.sleep(0.1)
        yield live


def accessions(page: dict[str, Any]) -> list[str]:
    return [item["accession_number"] for item in page["items"]]


def c_find(peer: Peer, top: dict[str, str], step: dict[str, str]) -> list[str]:
    identifier = Dataset()
    identifier.AccessionNumber = ""
    for keyword, value in top.items():
        setattr(identifier, keyword, value)
    item = Dataset()
    for keyword, value in step.items():
        setattr(item, keyword, value)
    identifier.ScheduledProcedureStepSequence = Sequence([item])
    return sorted(str(found.AccessionNumber) for found in find(peer, identifier))


@pytest.mark.parametrize(("params", "top", "step"), [
    ({"patient_name": "doe*"}, {"PatientName": "doe*"}, {}),
    ({"patient_name": "Doe^J?hn"}, {"PatientName": "Doe^J?hn"}, {}),
    ({"station": "MR1", "date": "today"}, {}, {"ScheduledStationAETitle": "MR1",
                                              "ScheduledProcedureStepStartDate": TODAY.strftime("%Y%m%d")}),
    ({"modality": "CT"}, {}, {"Modality": "CT"}),
    ({"date": f"{TODAY:%Y%m%d}-", "time": "0900-1030"}, {},
     {"ScheduledProcedureStepStartDate": f"{TODAY:%Y%m%d}-", "ScheduledProcedureStepStartTime": "0900-1030"}),
])
def test_search_matches_as_c_find_does(live: Live, params: dict[str, str], top: dict[str, str],
                                       step: dict[str, str]) -> None:
    with live.api("read") as client:
        answer = client.get("/api/v1/worklist", params=params)
    assert answer.status_code == 200, answer.text
    found = sorted(accessions(answer.json()))
    assert found, "the query should match something"
    assert found == c_find(live.peer, top, step)


def test_search_pages_and_filters_by_status_and_source(live: Live) -> None:
    with live.api("read") as client:
        first = client.get("/api/v1/worklist", params={"limit": 2, "source": "ris"}).json()
        second = client.get("/api/v1/worklist", params={"limit": 2, "offset": 2, "source": "ris"}).json()
        assert first["total"] == second["total"] >= 4
        assert len(first["items"]) == 2 and not set(accessions(first)) & set(accessions(second))
        assert client.get("/api/v1/worklist", params={"status": "COMPLETED", "source": "ris"}).json()["total"] == 0
        bad = client.get("/api/v1/worklist", params={"date": "2026-13-45"})
        assert bad.status_code == 422 and "ScheduledProcedureStepStartDate" in bad.json()["detail"]


def test_an_item_shows_its_source_lineage_and_mpps_history(live: Live) -> None:
    with live.api("read") as client:
        [item] = client.get("/api/v1/worklist", params={"accession_number": "ACC001"}).json()["items"]
        assert item["source"] == "ris" and item["patient_name"] == "Doe^Jane" and item["status"] == "SCHEDULED"
        [found] = find(live.peer, _identifier(AccessionNumber="ACC001"))
        mpps(live.peer, found)
        detail = client.get(f"/api/v1/worklist/{item['id']}").json()
        assert detail["lineage"]["created_by_run"]["source"] == "ris"
        assert detail["lineage"]["created_by_run"]["outcome"] == "success"
        assert [step["status"] for step in detail["mpps"]] == ["COMPLETED"]
        assert detail["status"] == "COMPLETED" and detail["status_kept"] is True
        recent = client.get("/api/v1/mpps").json()
        assert recent[0]["worklist_item"]["id"] == item["id"] and recent[0]["calling_ae_title"] == "MR1"
        assert client.get("/api/v1/worklist/999999").status_code == 404


def _identifier(**keys: str) -> Dataset:
    identifier = Dataset()
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber", "StudyInstanceUID"):
        setattr(identifier, keyword, keys.get(keyword, ""))
    return identifier


WALK_IN = {"patient_id": "WALK-1", "patient_name": "Walker^Ann", "patient_birth_date": "1990-05-06",
           "modality": "MR", "scheduled_station_aetitle": "MR1", "scheduled_start_date": TODAY.isoformat(),
           "scheduled_start_time": "16:45", "accession_number": "WALKIN1"}


def test_a_walk_in_is_checked_like_a_synced_row_and_found_over_dicom(live: Live) -> None:
    with live.api("write") as client:
        added = client.post("/api/v1/worklist", json=WALK_IN)
        assert added.status_code == 201, added.text
        item = added.json()
        assert item["source"] == "manual" and item["patient_birth_date"] == "19900506"
        assert item["study_instance_uid"].startswith("2.25.")
        assert client.post("/api/v1/worklist", json=WALK_IN).status_code == 409
        born_later = (date.today() + timedelta(days=3)).isoformat()
        future = client.post("/api/v1/worklist", json={**WALK_IN, "accession_number": "WALKIN2",
                                                        "patient_birth_date": born_later})
        assert future.status_code == 422 and "patient_birth_date" in future.json()["detail"]
        missing = client.post("/api/v1/worklist", json={"patient_name": "No^Id", "modality": "MR"})
        assert missing.status_code == 422 and "patient_id" in missing.json()["detail"]
        typo = client.post("/api/v1/worklist", json={**WALK_IN, "patient_nmae": "x"})
        assert typo.status_code == 422 and "patient_nmae" in typo.json()["detail"]
    [found] = find(live.peer, _identifier(AccessionNumber="WALKIN1"))
    assert str(found.PatientName) == "Walker^Ann" and found.PatientID == "WALK-1"
    with live.api("write") as client:  # a sync does not remove it
        client.post("/api/v1/sources/ris/sync", params={"wait": True})
        assert client.get(f"/api/v1/worklist/{item['id']}").status_code == 200


def test_a_manual_entry_can_be_changed_a_synced_one_cannot(live: Live) -> None:
    with live.api("write") as client:
        item = client.post("/api/v1/worklist", json={**WALK_IN, "accession_number": "WALKIN3",
                                                      "patient_id": "WALK-3"}).json()
        changed = client.patch(f"/api/v1/worklist/{item['id']}", json={"patient_name": "walker^anne",
                                                                        "scheduled_start_time": "17:15"})
        assert changed.status_code == 200, changed.text
        assert changed.json()["patient_name"] == "WALKER^ANNE" or changed.json()["patient_name"] == "walker^anne"
        assert changed.json()["scheduled_start_time"] == "171500"
        [change] = [c for c in changed.json()["lineage"]["changes"] if c["action"] == "worklist.update"]
        assert change["actor"] == "token:write-script" and "scheduled_start_time" in change["changes"]
        bad = client.patch(f"/api/v1/worklist/{item['id']}", json={"patient_id": None})
        assert bad.status_code == 422 and "patient_id" in bad.json()["detail"]
        synced = client.get("/api/v1/worklist", params={"accession_number": "ACC002"}).json()["items"][0]
        refused = client.patch(f"/api/v1/worklist/{synced['id']}", json={"patient_name": "X^Y"})
        assert refused.status_code == 409 and "source 'ris'" in refused.json()["detail"]


def test_cancelling_keeps_the_item_discontinued_and_off_the_scanners(live: Live) -> None:
    with live.api("write") as client:
        [item] = client.get("/api/v1/worklist", params={"accession_number": "ACC002"}).json()["items"]
        before = client.get("/api/v1/scanners/MR2/worklist").json()
        assert "ACC002" in accessions(before)
        cancelled = client.post(f"/api/v1/worklist/{item['id']}/cancel", json={"reason": "patient unwell"})
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "DISCONTINUED"
        assert "ACC002" not in accessions(client.get("/api/v1/scanners/MR2/worklist").json())
        assert c_find(Peer("127.0.0.1", live.site.dicom_port, calling_ae="MR2"), {}, {"Modality": "MR"}).count(
            "ACC002") == 0
        live.rows_file.write_text(json.dumps([*ROWS[:1], row(2, name="DOE^JOHN", station="MR2", time="12:00"),
                                              *ROWS[2:]]))
        synced = client.post("/api/v1/sources/ris/sync", params={"wait": True}).json()
        assert synced["outcome"] == "success" and synced["counts"]["updated"] >= 1
        after = client.get(f"/api/v1/worklist/{item['id']}").json()
        assert after["status"] == "DISCONTINUED" and after["scheduled_start_time"] == "120000"
        again = client.post(f"/api/v1/worklist/{item['id']}/cancel")
        assert again.status_code == 409 and "DISCONTINUED" in again.json()["detail"]


def test_the_scanner_view_is_what_its_c_find_returns(live: Live) -> None:
    with live.api("read") as client:
        view = client.get("/api/v1/scanners/MR1/worklist").json()
        assert view["refused"] is None
        expected = c_find(live.peer, {}, {"ScheduledStationAETitle": "MR1",
                                          "ScheduledProcedureStepStartDate": f"{TODAY:%Y%m%d}"})
        assert sorted(accessions(view)) == expected
        assert "ACC004" not in expected  # tomorrow's


def test_sources_show_health_runs_and_rejected_rows(live: Live) -> None:
    with live.api("read") as client:
        [source] = client.get("/api/v1/sources").json()
        assert source["name"] == "ris" and source["type"] == "rowsfile" and source["plugin"]
        assert source["last_success"] and source["degraded"] is False and source["stale"] is None
        runs = client.get("/api/v1/sources/ris/runs").json()
        assert runs[0]["outcome"] == "success" and runs[-1]["counts"]["inserted"] == 4
        rejected = client.get(f"/api/v1/sources/ris/runs/{runs[-1]['id']}/rejected").json()["rejected"]
        assert rejected == [{"location": "record 5", "field": "patient_birth_date",
                             "reason": rejected[0]["reason"]}]
        assert "patient_birth_date" in rejected[0]["reason"] and "not a date" not in rejected[0]["reason"]
        assert client.get("/api/v1/sources/nothing/runs").status_code == 404


def test_role_boundaries_and_the_audit(live: Live) -> None:
    writes = [("POST", "/api/v1/worklist", {"json": WALK_IN}), ("PATCH", "/api/v1/worklist/1", {"json": {}}),
              ("POST", "/api/v1/worklist/1/cancel", {}), ("POST", "/api/v1/sources/ris/sync", {})]
    with live.site.client() as anonymous, live.api("read") as reader:
        for method, path, options in writes:
            assert anonymous.request(method, path, **options).status_code == 401
            answer = reader.request(method, path, **options)
            assert answer.status_code == 403 and "needs the write role" in answer.json()["detail"]
        assert anonymous.get("/api/v1/worklist").status_code == 401
        assert reader.get("/api/v1/audit").status_code == 403
    with live.api("admin") as admin:
        events = admin.get("/api/v1/audit").json()
        actions = {event["action"] for event in events}
        assert {"worklist.create", "worklist.update", "worklist.cancel", "source.sync"} <= actions
        assert all(event["remote_address"] == "127.0.0.1" for event in events if event["actor"].startswith("token:"))
    token = live.site.token("short", "write")
    live.site.cli("tokens", "revoke", "short")
    with live.site.client(token) as revoked:
        assert revoked.post("/api/v1/worklist", json=WALK_IN).status_code == 401
