"""The previous Pylantir's visibility keys (REDCap ``mwl_days_ahead``, Calpendo ``window_mode`` and
``daily_window`` in the source's ``timezone``) become the sources' ``visibility``, and a broad C-FIND over
10,000 items spread over 60 days returns only the items in those windows (a server with a controlled clock).

The expected windows are written out by hand, from what the previous Pylantir 0.4.6 showed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from pylantir.config import load_config
from pylantir.dicom import RunningServer, start_server
from pylantir.dicom.client import Peer, find, worklist_identifier
from pylantir.store import Database, WorklistItem
from pylantir.sync.clock import ManualClock

EDMONTON = "America/Edmonton"
REDCAP = {"name": "cpip", "type": "redcap", "config": {"site": "792", "mwl_days_ahead": 3}}
CALPENDO = {"base_url": "https://calpendo.example.org", "resources": ["3T Diagnostic"], "timezone": EDMONTON}


def previous_file(tmp_path: Path, *sources: dict[str, Any]) -> Path:
    path = tmp_path / "mwl_config.json"
    path.write_text(json.dumps({"db_path": str(tmp_path / "worklist.db"), "allowed_aet": [],
                                "data_sources": list(sources)}), encoding="utf-8")
    return path


def visibility_of(tmp_path: Path, *sources: dict[str, Any]) -> dict[str, Any]:
    config = load_config(previous_file(tmp_path, *sources))
    return {source.name: None if source.visibility is None else source.visibility.model_dump(exclude_none=True)
            for source in config.data_sources}


def test_mwl_days_ahead_becomes_days_ahead_and_its_default_is_today(tmp_path: Path) -> None:
    assert visibility_of(tmp_path, REDCAP, {"name": "plain", "type": "redcap", "config": {"site": "792"}},
                         {"name": "conc", "type": "redcap_concussion", "config": {"mwl_days_ahead": 1}}) == {
        "cpip": {"days_ahead": 3}, "plain": {"days_ahead": 0}, "conc": {"days_ahead": 1}}


def test_a_redcap2wl_file_shows_today_as_0_4_6_did(tmp_path: Path) -> None:
    path = tmp_path / "legacy.json"
    path.write_text(json.dumps({"db_path": str(tmp_path / "w.db"), "site": "792",
                                "redcap2wl": {"study_id": "study_id"}}))
    [source] = load_config(path).data_sources
    assert source.visibility is not None and source.visibility.model_dump(exclude_none=True) == {"days_ahead": 0}


def test_calpendo_windows_become_visibility_in_the_sources_time_zone(tmp_path: Path) -> None:
    window = {"start_time": [18, 0], "end_time": [6, 0]}
    assert visibility_of(
        tmp_path,
        {"name": "today", "type": "calpendo", "config": {**CALPENDO, "window_mode": "today"}},
        {"name": "night", "type": "calpendo", "config": CALPENDO, "daily_window": window},
        {"name": "rolling", "type": "calpendo", "config": {**CALPENDO, "window_mode": "rolling"}},
        {"name": "default_zone", "type": "calpendo",
         "config": {**{k: v for k, v in CALPENDO.items() if k != "timezone"}, "window_mode": "today"}},
    ) == {
        "today": {"days_ahead": 0, "timezone": EDMONTON},
        "night": {"daily_window": {"start_time": (18, 0), "end_time": (6, 0)}, "timezone": EDMONTON},
        "rolling": {"all": True},  # the previous Pylantir showed every booking a rolling window had fetched
        "default_zone": {"days_ahead": 0, "timezone": EDMONTON},  # its default zone
    }


def rows(count: int, first_day: date, sources: tuple[str, ...]) -> list[dict[str, Any]]:
    """``count`` items over 60 days from ``first_day``, every 30 minutes, round-robin over ``sources``."""
    items = []
    for n in range(count):
        start = datetime.combine(first_day, datetime.min.time()) + timedelta(minutes=30 * (n * 60 * 48 // count))
        day, clock = start.strftime("%Y%m%d"), start.strftime("%H%M%S")
        items.append({"identity": f"vis:{n}", "source_name": sources[n % len(sources)], "content_hash": "x",
                      "patient_id": f"V{n:05d}", "study_instance_uid": f"1.2.826.0.1.3680043.10.999.8.{n}",
                      "modality": "MR", "scheduled_start_date": day, "scheduled_start_time": clock,
                      "scheduled_start": day + clock})
    return items


@pytest.fixture
def served(database: Database) -> Iterator[list[RunningServer]]:
    running: list[RunningServer] = []
    yield running
    for server in running:
        server.shutdown()


def test_a_broad_c_find_over_10000_items_shows_only_the_previous_windows(
    tmp_path: Path, database: Database, served: list[RunningServer],
) -> None:
    """cpip (REDCap, mwl_days_ahead 3): today to today + 3; night (Calpendo daily_window 18:00-06:00,
    Edmonton): tonight's window, and last night's until 06:00; rolling (Calpendo): everything."""
    items = rows(10_000, date(2026, 2, 6), ("cpip", "night", "rolling"))
    with database.session() as session:
        for start in range(0, len(items), 2000):
            session.execute(insert(WorklistItem), items[start:start + 2000])
    window = {"start_time": [18, 0], "end_time": [6, 0]}
    config = load_config(previous_file(tmp_path, REDCAP, {"name": "night", "type": "calpendo", "config": CALPENDO,
                                                          "daily_window": window},
                                       {"name": "rolling", "type": "calpendo", "config": CALPENDO}))
    config = config.model_copy(update={"timezone": EDMONTON})  # the site's clock, as the server's was
    now = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)  # 02:00 MDT on 10 March
    server = start_server(config, database, port=0, clock=ManualClock(now))
    served.append(server)
    identifier = worklist_identifier()
    identifier.PatientID = ""
    answer = [str(r.PatientID) for r in find(Peer("127.0.0.1", server.port), identifier)]
    windows = {"cpip": [("20260310000000", "20260314000000")],
               "night": [("20260309180000", "20260310060000"), ("20260310180000", "20260311060000")],
               "rolling": [("0", "9")]}
    wanted = [item for item in items
              if any(low <= item["scheduled_start"] < high for low, high in windows[item["source_name"]])]
    assert sorted(answer) == sorted(item["patient_id"] for item in wanted)
    assert 3500 < len(answer) < 3700  # the rolling third (3,333), ~220 of cpip's, ~55 of night's
