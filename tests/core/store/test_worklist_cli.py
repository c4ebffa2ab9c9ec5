"""``pylantir worklist list``: filters in SQL, table and JSON output."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pylantir.store import Database

ZONE = "Pacific/Kiritimati"  # UTC+14: "today" there is rarely today in UTC


@pytest.fixture
def seeded(database_url, config_for, make_item):
    now = datetime.now(ZoneInfo(ZONE))
    today, tomorrow = now.strftime("%Y%m%d"), (now + timedelta(days=1)).strftime("%Y%m%d")
    database = Database.open(database_url)
    with database.session() as session:
        session.add_all(
            [
                make_item(patient_id="A1", scheduled_start_date="20250101", scheduled_start_time="080000"),
                make_item(patient_id="A2", scheduled_start_date="20250102", modality="CT"),
                make_item(patient_id="A3", scheduled_start_date="20250103", source_name="site_b"),
                make_item(
                    patient_id="A4",
                    scheduled_start_date="20250103",
                    scheduled_start_time=None,
                    scheduled_procedure_step_status="COMPLETED",
                ),
                make_item(patient_id="T1", scheduled_start_date=today, scheduled_start_time="235900"),
                make_item(patient_id="T2", scheduled_start_date=tomorrow, scheduled_start_time="000100",
                          patient_birth_date="19710211", patient_sex="F"),
            ]
        )
    database.close()
    return str(config_for(database_url, timezone=ZONE))


def listed_ids(run, config, *options) -> list[str]:
    result = run("worklist", "list", "--config", config, "--json", *options)
    assert result.exit_code == 0, result.output
    return [item["patient_id"] for item in json.loads(result.stdout)]


FILTER_CASES = [
    ((), ["A1", "A2", "A4", "A3", "T1", "T2"]),
    (("--date", "20250102"), ["A2"]),
    (("--date", "20250102-20250103"), ["A2", "A4", "A3"]),
    (("--date", "20250102-"), ["A2", "A4", "A3", "T1", "T2"]),
    (("--date", "-20250101"), ["A1"]),
    (("--date", "today"), ["T1"]),
    (("--date", "tomorrow"), ["T2"]),
    (("--date", "2025-01-02"), ["A2"]),
    (("--modality", "ct"), ["A2"]),
    (("--source", "site_b"), ["A3"]),
    (("--status", "completed"), ["A4"]),
    (("--date", "20250103", "--status", "SCHEDULED", "--source", "site_a"), []),
]


def test_filters(seeded, run):
    # one database per backend for all cases: creating PostgreSQL databases is the slow part
    for options, expected in FILTER_CASES:
        assert listed_ids(run, seeded, *options) == expected, options


def test_json_has_every_column(seeded, run):
    [item] = json.loads(run("worklist", "list", "--config", seeded, "--json", "--date", "20250101").stdout)
    assert item["patient_name"] == "Doe^Jane"
    assert item["scheduled_start"] == "20250101080000"
    assert item["scheduled_procedure_step_status"] == "SCHEDULED"
    assert datetime.fromisoformat(item["created_at"])


def test_table(seeded, run):
    result = run("worklist", "list", "--config", seeded, "--date", "20250101-20250103")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["scheduled", "modality", "station"]
    assert lines[1].split()[:6] == ["2025-01-01", "08:00", "MR", "MR1", "A1", "Doe^Jane"]
    assert lines[3].split()[:4] == ["2025-01-03", "MR", "MR1", "A4"]  # no time: first of its day
    assert len(lines) == 5


def test_table_shows_birth_date_and_sex(seeded, run):
    result = run("worklist", "list", "--config", seeded, "--date", "tomorrow")
    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()
    assert header.split()[6:12] == ["patient", "name", "birth", "date", "sex", "accession"]
    assert row.split()[4:8] == ["T2", "Doe^Jane", "1971-02-11", "F"]


def test_nothing_matches(seeded, run):
    result = run("worklist", "list", "--config", seeded, "--date", "19990101")
    assert result.exit_code == 0
    assert result.stdout.strip() == "No worklist items match."


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2025-01", "'2025' is not a date"),
        ("20250231", "'20250231' is not a date"),
        ("20250105-20250101", "the range 20250105-20250101 ends before it starts"),
        ("-", "a range needs at least one end"),
    ],
)
def test_bad_dates_are_usage_errors(sqlite_url, config_for, run, value, message):
    result = run("worklist", "list", "--config", str(config_for(sqlite_url)), "--date", value)
    assert result.exit_code == 2
    assert message in result.stderr
