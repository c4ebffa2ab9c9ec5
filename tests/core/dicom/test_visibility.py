"""Visibility windows: what a scanner sees of each source's items over C-FIND, judged at a controlled "now".

Real associations against a server started with a manual clock; the expected windows are written out by hand
(not computed by the code under test).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydicom import Dataset, dcmread
from sqlalchemy import insert, text

from pylantir.config import ConfigError, PylantirConfig, Visibility, load_config
from pylantir.dicom import RunningServer, start_server
from pylantir.dicom.client import Peer, find, worklist_identifier
from pylantir.dicom.matching import MatchSettings, build_query
from pylantir.dicom.visibility import visible_ranges
from pylantir.store import Database, WorklistItem
from pylantir.sync.clock import ManualClock, site_today

from .conftest import free_port, serving

EDMONTON = "America/Edmonton"  # DST 2026: from 8 March 02:00 MST to 1 November 02:00 MDT
OVERNIGHT = {"daily_window": {"start_time": [18, 0], "end_time": [6, 0]}}


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def ranges(visibility: dict[str, Any], now: datetime, site: str = "UTC") -> Any:
    return visible_ranges(Visibility.model_validate(visibility), now, site)


# --- the windows at a given instant ---------------------------------------------------------------------


def test_days_ahead_is_today_to_today_plus_n_in_the_site_zone() -> None:
    """days_ahead N: from today's midnight to the midnight after day N, today being the site zone's."""
    assert ranges({"days_ahead": 0}, utc(2026, 7, 1, 12)) == (("20260701000000", "20260702000000"),)
    assert ranges({"days_ahead": 3}, utc(2026, 7, 1, 12)) == (("20260701000000", "20260705000000"),)
    # 03:00 UTC on 2 July is still 1 July in Edmonton (UTC-6 in summer)
    assert ranges({"days_ahead": 0}, utc(2026, 7, 2, 3), EDMONTON) == (("20260701000000", "20260702000000"),)
    assert ranges({"all": True}, utc(2026, 7, 1, 12)) is None


def test_the_visibility_s_own_time_zone_wins_over_the_site_s() -> None:
    """20:00 UTC on 7 March is already 8 March in Tokyo."""
    now = utc(2026, 3, 7, 20)
    assert ranges({"days_ahead": 0}, now) == (("20260307000000", "20260308000000"),)
    assert ranges({"days_ahead": 0, "timezone": "Asia/Tokyo"}, now) == (("20260308000000", "20260309000000"),)


def test_today_changes_at_local_midnight_on_dst_days() -> None:
    """Local midnight around both DST changes: the offset of the day, never a fixed one."""
    # the night before spring forward: midnight MST is 07:00 UTC
    assert ranges({"days_ahead": 0}, utc(2026, 3, 8, 6, 59), EDMONTON)[0][0] == "20260307000000"
    assert ranges({"days_ahead": 0}, utc(2026, 3, 8, 7, 0), EDMONTON)[0][0] == "20260308000000"
    # the night before fall back: midnight is still MDT, 06:00 UTC (MST would say 07:00)
    assert ranges({"days_ahead": 0}, utc(2026, 11, 1, 5, 59), EDMONTON)[0][0] == "20261031000000"
    assert ranges({"days_ahead": 0}, utc(2026, 11, 1, 6, 30), EDMONTON)[0][0] == "20261101000000"


def test_an_overnight_window_runs_until_its_end_on_the_wall_clock_across_dst() -> None:
    """18:00-06:00 over the spring-forward night (11 hours long): it ends at 06:00 MDT, not 06:00 MST."""
    tonight = ("20260307180000", "20260308060000")
    tomorrow_night = ("20260308180000", "20260309060000")
    assert ranges(OVERNIGHT, utc(2026, 3, 8, 11, 59), EDMONTON) == (tonight, tomorrow_night)  # 05:59 MDT
    assert ranges(OVERNIGHT, utc(2026, 3, 8, 12, 0), EDMONTON) == (tomorrow_night,)  # 06:00 MDT
    # fall back: 01:30 happens twice; a window ending at 01:30 is running until the wall clock passes it
    late = {"daily_window": {"start_time": [22, 0], "end_time": [1, 30]}}
    first_0115 = utc(2026, 11, 1, 7, 15)  # 01:15 MDT
    second_0115 = utc(2026, 11, 1, 8, 15)  # 01:15 MST
    for now in (first_0115, second_0115):
        assert ranges(late, now, EDMONTON) == (("20261031220000", "20261101013000"),
                                               ("20261101220000", "20261102013000"))
    assert ranges(late, utc(2026, 11, 1, 8, 30), EDMONTON) == (("20261101220000", "20261102013000"),)


def test_a_daytime_window_and_a_whole_day_window() -> None:
    """A window within the day is today's all day long; start == end is 24 hours from the start."""
    morning = {"daily_window": {"start_time": [8, 0], "end_time": [12, 30]}}
    for hour in (1, 10, 23):
        assert ranges(morning, utc(2026, 5, 4, hour)) == (("20260504080000", "20260504123000"),)
    day = {"daily_window": {"start_time": [7, 0], "end_time": [7, 0]}}
    assert ranges(day, utc(2026, 5, 4, 6)) == (("20260503070000", "20260505070000"),)  # two, joined
    assert ranges(day, utc(2026, 5, 4, 8)) == (("20260504070000", "20260505070000"),)


def test_visibility_keys_are_checked_with_their_paths(tmp_path: Path) -> None:
    """Every mistake is named by its config path; a source without visibility follows server.visibility."""
    path = tmp_path / "pylantir.json"
    path.write_text(json.dumps({
        "server": {"visibility": {"days_ahead": 1, "daily_window": OVERNIGHT["daily_window"]}},
        "data_sources": [
            {"name": "a", "type": "csv", "visibility": {}},
            {"name": "b", "type": "csv", "visibility": {"days_ahead": -1}},
            {"name": "c", "type": "csv", "visibility": {"daily_window": {"start_time": [24, 0], "end_time": [6, 0]}}},
            {"name": "d", "type": "csv", "visibility": {"days_ahead": 0, "timezone": "Europe/Calgary"}},
            {"name": "e", "type": "csv", "visibility": {"all": False}},
            {"name": "f", "type": "csv", "visibility": {"all": True, "timezone": "UTC"}},
        ],
    }))
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    problems = "\n".join(raised.value.problems)
    for expected in (
        'server.visibility: give exactly one of "all": true, "days_ahead": N or "daily_window" '
        "(not days_ahead and daily_window)",
        'data_sources.0.visibility: give exactly one of "all": true',
        "data_sources.1.visibility.days_ahead: Input should be greater than or equal to 0",
        "data_sources.2.visibility.daily_window.start_time: must be [hour, minute]",
        "data_sources.3.visibility.timezone: unknown time zone 'Europe/Calgary'",
        "data_sources.4.visibility.all: Input should be True",
        'data_sources.5.visibility: "timezone" applies to days_ahead and daily_window only',
    ):
        assert expected in problems
    config = PylantirConfig.model_validate({"data_sources": [{"name": "x", "type": "csv"}]})
    assert config.server.visibility.all is True and config.data_sources[0].visibility is None


def test_the_documented_example_is_valid() -> None:
    """docs/configuration.md's visibility example passes the configuration's checks and means what it says."""
    text = (Path(__file__).parents[3] / "docs" / "configuration.md").read_text(encoding="utf-8")
    section = text[text.index("### What scanners see: `visibility`"):]
    start = section.index("```json\n") + len("```json\n")
    config = PylantirConfig.model_validate(json.loads(section[start:section.index("```", start)]))
    calpendo, redcap = config.data_sources
    night = ranges(calpendo.visibility.model_dump(exclude_none=True), utc(2026, 7, 2, 3))  # 21:00 in Edmonton
    assert night == (("20260701180000", "20260702060000"),)
    assert redcap.visibility == Visibility(days_ahead=3) and config.server.visibility == Visibility(days_ahead=0)


# --- over real associations ---------------------------------------------------------------------------


def rows(count: int, first_day: date, sources: tuple[str, ...]) -> list[dict[str, Any]]:
    """``count`` items spread evenly over 60 days from ``first_day``, every 30 minutes of the day, round-robin
    over ``sources`` (so every window edge has items on both sides)."""
    items = []
    for n in range(count):
        slot = n * 60 * 48 // count  # half-hour slots over 60 days
        start = datetime.combine(first_day, datetime.min.time()) + timedelta(minutes=30 * slot)
        day, clock = start.strftime("%Y%m%d"), start.strftime("%H%M%S")
        items.append({
            "identity": f"vis:{n}", "source_name": sources[n % len(sources)], "content_hash": "x",
            "patient_id": f"V{n:05d}", "study_instance_uid": f"1.2.826.0.1.3680043.10.999.7.{n}",
            "modality": "MR", "scheduled_station_aetitle": "MR1", "scheduled_start_date": day,
            "scheduled_start_time": clock, "scheduled_start": day + clock,
        })
    return items


@pytest.fixture
def fill(database: Database) -> Callable[[list[dict[str, Any]]], None]:
    def insert_rows(items: list[dict[str, Any]]) -> None:
        with database.session() as session:
            for start in range(0, len(items), 2000):
                session.execute(insert(WorklistItem), items[start:start + 2000])

    return insert_rows


@pytest.fixture
def serve_at(database: Database) -> Iterator[Callable[[dict[str, Any], datetime], tuple[Peer, ManualClock]]]:
    """``serve_at(config, now)``: a server for ``config`` whose clock stands at ``now``."""
    running: list[RunningServer] = []

    def start(config: dict[str, Any], now: datetime) -> tuple[Peer, ManualClock]:
        clock = ManualClock(now)
        server = start_server(PylantirConfig.model_validate(config), database, port=0, clock=clock)
        running.append(server)
        return Peer("127.0.0.1", server.port), clock

    yield start
    for server in running:
        server.shutdown()


def broad() -> Dataset:
    """A broad modality query: no date, no modality, no station; Patient ID and the start as return keys."""
    identifier = worklist_identifier()
    identifier.PatientID = ""
    return identifier


def seen(peer: Peer, identifier: Dataset | None = None) -> list[str]:
    return [str(r.PatientID) for r in find(peer, identifier if identifier is not None else broad())]


def expected(items: list[dict[str, Any]], windows: dict[str, list[tuple[str, str]]], default: list[tuple[str, str]],
             ) -> list[str]:
    """The items a scanner should see, in start order, from windows written out by hand."""
    chosen = [item for item in items if any(low <= item["scheduled_start"] < high
                                            for low, high in windows.get(item["source_name"], default))]
    return [item["patient_id"] for item in sorted(chosen, key=lambda i: (i["scheduled_start"], i["identity"]))]


def test_a_broad_query_over_10000_items_returns_only_the_windows_items(
    fill: Callable[..., None], serve_at: Callable[..., Any],
) -> None:
    """10,000 items over 60 days from four sources: the calpendo-like source shows its overnight window
    (after midnight: last night's rest and tonight's), the REDCap-like one today + 3 days, a source with
    "all" everything, and the items of a source no longer configured follow server.visibility (today)."""
    items = rows(10_000, date(2026, 2, 6), ("cal", "red", "manual", "gone"))
    fill(items)
    config = {
        "timezone": EDMONTON,
        "server": {"visibility": {"days_ahead": 0}},
        "data_sources": [
            {"name": "cal", "type": "calpendo", "visibility": OVERNIGHT},
            {"name": "red", "type": "redcap", "visibility": {"days_ahead": 3}},
            {"name": "manual", "type": "csv", "enabled": False, "visibility": {"days_ahead": 3}},
        ],
    }
    peer, _ = serve_at(config, utc(2026, 3, 8, 8, 0))  # 01:00 MST on 8 March
    answer = seen(peer)
    assert answer == expected(items, {
        "cal": [("20260307180000", "20260308060000"), ("20260308180000", "20260309060000")],
        "red": [("20260308000000", "20260312000000")], "manual": [("20260308000000", "20260312000000")],
    }, default=[("20260308000000", "20260309000000")])
    assert 400 < len(answer) < 600  # ~42 per source-day in the windows, out of 10,000
    # a dated query is narrowed by the windows too: 10 March is beyond the default's and the overnight's reach
    dated = broad()
    dated.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate = "20260310"
    assert set(seen(peer, dated)) == {item["patient_id"] for item in items if item["source_name"] in ("red", "manual")
                                      and item["scheduled_start_date"] == "20260310"}


def test_all_on_a_source_overrides_a_restricted_default(fill: Callable[..., None],
                                                        serve_at: Callable[..., Any]) -> None:
    """A source with "all": true shows everything while the default shows today only."""
    items = rows(600, date(2026, 6, 1), ("everything", "other"))
    fill(items)
    peer, _ = serve_at({"server": {"visibility": {"days_ahead": 0}},
                        "data_sources": [{"name": "everything", "type": "csv", "visibility": {"all": True}}]},
                       utc(2026, 6, 10, 12))
    assert seen(peer) == expected(items, {"everything": [("0", "9")]}, default=[("20260610000000", "20260611000000")])


def test_an_overnight_window_before_and_after_midnight(fill: Callable[..., None],
                                                       serve_at: Callable[..., Any]) -> None:
    """The spring-forward night in Edmonton, on one server whose clock moves: before midnight tonight's
    window; after midnight the rest of it and the next one; after 06:00 MDT only the next one."""
    times = {"D-17": "20260307170000", "D-19": "20260307190000", "N-02": "20260308020000",
             "N-0530": "20260308053000", "N-07": "20260308070000", "N-19": "20260308190000",
             "M-03": "20260309030000", "M-07": "20260309070000"}
    fill([{"identity": f"night:{name}", "source_name": "cal", "content_hash": "x", "patient_id": name,
           "study_instance_uid": f"1.2.826.0.1.3680043.10.999.8.{n}", "modality": "MR",
           "scheduled_start_date": start[:8], "scheduled_start_time": start[8:], "scheduled_start": start}
          for n, (name, start) in enumerate(times.items())])
    peer, clock = serve_at({"timezone": EDMONTON, "data_sources": [{"name": "cal", "type": "calpendo",
                                                                     "visibility": OVERNIGHT}]},
                           utc(2026, 3, 8, 6, 30))  # 23:30 MST on 7 March
    assert seen(peer) == ["D-19", "N-02", "N-0530"]
    clock.advance(3600)  # 00:30 MST on 8 March
    assert seen(peer) == ["D-19", "N-02", "N-0530", "N-19", "M-03"]
    clock.advance(4 * 3600)  # 05:30 MDT (04:30 MST never came): still last night's window
    assert seen(peer) == ["D-19", "N-02", "N-0530", "N-19", "M-03"]
    clock.advance(3600)  # 06:30 MDT
    assert seen(peer) == ["N-19", "M-03"]


def test_the_window_query_is_served_by_the_start_index(database: Database) -> None:
    """EXPLAIN: with per-source windows, the typical query and a broad one search a scheduled_start range of
    the worklist index, never the whole table or index (SQLite as sites run it, without ANALYZE; PostgreSQL
    after ANALYZE, as autovacuum does)."""
    with database.session() as session:
        session.execute(insert(WorklistItem), rows(3000, date(2026, 1, 1), ("cal", "red", "other")))
    postgres = database.engine.dialect.name == "postgresql"
    if postgres:
        with database.engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    config = PylantirConfig.model_validate({
        "server": {"visibility": {"days_ahead": 1}},
        "data_sources": [{"name": "cal", "type": "x", "visibility": OVERNIGHT},
                         {"name": "red", "type": "x", "visibility": {"days_ahead": 3}}]})
    settings = MatchSettings.for_config(config, database.sql, ManualClock(utc(2026, 1, 20, 3)))  # two overnight ranges
    for identifier in (worklist_identifier("20260120", "MR", "MR1"), Dataset()):
        sql = str(build_query(identifier, settings).statement.compile(database.engine,
                                                                         compile_kwargs={"literal_binds": True}))
        with database.engine.connect() as connection:
            if postgres:
                connection.execute(text("SET enable_seqscan = off"))  # ask which index it would use at scale
                plan = "\n".join(row[0] for row in connection.execute(text("EXPLAIN " + sql)))
            else:
                plan = "\n".join(row[3] for row in connection.execute(text("EXPLAIN QUERY PLAN " + sql)))
        assert "ix_worklist_start_modality_station_status" in plan, plan
        assert "Seq Scan" not in plan and "SCAN" not in plan, plan


# --- as a site runs it ---------------------------------------------------------------------------------


@pytest.mark.plugin("pylantir-csv")
@pytest.mark.dcmtk
def test_pylantir_run_shows_findscu_only_todays_items_of_a_source(tmp_path: Path, dcmtk: Any) -> None:
    """A CSV source with "days_ahead": 0 synced by a real `pylantir run`: dcmtk's findscu, asking with no
    date at all, gets today's exams and not yesterday's or tomorrow's."""
    today = site_today("UTC")
    export = tmp_path / "export.csv"
    export.write_text("mrn,name,modality,exam_date,exam_time\n" + "".join(
        f"MRN-{offset + 1},Demo^Patient,MR,{today + timedelta(days=offset)},{clock}\n"
        for offset in (-1, 0, 1) for clock in ("08:00", "15:30")))
    port = free_port()
    config = tmp_path / "pylantir.json"
    config.write_text(json.dumps({
        "database_url": f"sqlite:///{tmp_path / 'site.sqlite'}", "server": {"port": port},
        "data_sources": [{"name": "ris", "type": "csv", "sync_interval": 3600, "visibility": {"days_ahead": 0},
                          "config": {"file_path": str(export)},
                          "field_mapping": {"mrn": "patient_id", "name": "patient_name", "modality": "modality",
                                            "exam_date": "scheduled_start_date", "exam_time": "scheduled_start_time"}}],
    }))
    with serving(["run", "--config", str(config)], Peer("127.0.0.1", port)):
        for _ in range(100):  # the first sync runs as the server starts
            responses = _findscu(dcmtk, tmp_path, port)
            if responses:
                break
            time.sleep(0.1)
    if site_today("UTC") != today:
        pytest.skip("midnight passed during the test")
    assert [(str(r.PatientID), r.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime)
            for r in responses] == [("MRN-1", "080000"), ("MRN-1", "153000")]


def _findscu(dcmtk: Any, directory: Path, port: int) -> list[Dataset]:
    for old in directory.glob("rsp*.dcm"):
        old.unlink()
    result = dcmtk("findscu", "-W", "-X", "-od", str(directory), "-aet", "MR1", "-aec", "PYLANTIR",
                   "-k", "PatientID", "-k", "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime",
                   "127.0.0.1", str(port), cwd=directory)
    assert result.returncode == 0, result.stderr
    return [dcmread(path) for path in sorted(directory.glob("rsp*.dcm"))]
