"""Which bookings are fetched: rolling, today and daily windows, in the source's time zone.

The plugin reads the real clock, so the tests choose the time zone instead: a fixed-offset zone
(``Etc/GMT-5`` is UTC+5) in which it is now the hour a case needs. Each fetch is retried once when the
hour (or date) changed while it ran.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

ONE_DAY = timedelta(days=1)


def zone_at(hour: int) -> str:
    """A fixed-offset IANA zone in which the local hour is ``hour`` right now."""
    offset = (hour - datetime.now(UTC).hour) % 24
    offset = offset - 24 if offset > 14 else offset
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def stamp(moment: datetime) -> str:
    return f"{moment:%Y%m%d-%H%M}"


def at(day: date, hour: int, zone: str) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=ZoneInfo(zone))


def fetched(serve, fetch, config_for, zone: str, book: Callable[[datetime], list[datetime]],
            **keys) -> tuple[datetime, list[datetime], str]:
    """(local now, the starts of the bookings fetched, the window part of the query) for one fetch."""
    for _ in range(2):
        server = serve(timezone=zone)
        before = datetime.now(ZoneInfo(zone))
        for start in book(before):
            server.add(start.isoformat(), start)
        records = fetch(config_for(server, **keys))
        if datetime.now(ZoneInfo(zone)).strftime("%Y%m%d%H") == before.strftime("%Y%m%d%H"):
            (query,) = server.queries()
            window = query.split("/resource.name/", 1)[0].removeprefix("AND/")
            return before, sorted(datetime.fromisoformat(r.data["title"]) for r in records), window
    pytest.fail("the hour changed during two fetches in a row")


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])  # 25 hours apart: never one date
def test_today_is_midnight_to_midnight_in_the_source_zone(serve, fetch, config_for, zone):
    def book(now: datetime) -> list[datetime]:
        today = now.date()
        return [at(today, 0, zone) + timedelta(minutes=30), at(today, 23, zone) + timedelta(minutes=30),
                at(today - ONE_DAY, 23, zone), at(today + ONE_DAY, 0, zone)]

    now, starts, window = fetched(serve, fetch, config_for, zone, book, window_mode="today")
    today = now.date()
    assert window == f"dateRange.start/GE/{today:%Y%m%d}-0000/dateRange.start/LT/{today + ONE_DAY:%Y%m%d}-0000"
    assert starts == book(now)[:2]


def test_rolling_is_lookback_to_lookahead(serve, fetch, config_for):
    zone = "America/Edmonton"

    def book(now: datetime) -> list[datetime]:
        return [now - timedelta(minutes=30), now - timedelta(minutes=90), now + timedelta(hours=23),
                now + timedelta(hours=25)]

    now, starts, window = fetched(serve, fetch, config_for, zone, book, lookback_minutes=60, lookahead_hours=24)
    bookings = book(now)
    assert starts == sorted([bookings[0], bookings[2]])
    assert window == (f"dateRange.start/GE/{stamp(now - timedelta(minutes=60))}/"
                      f"dateRange.start/LT/{stamp(now + timedelta(hours=24))}")


OVERNIGHT = {"daily_window": {"start_time": [22, 0], "end_time": [6, 0]}}


def overnight_bookings(zone: str) -> Callable[[datetime], list[datetime]]:
    def book(now: datetime) -> list[datetime]:
        today = now.date()
        return [at(today - ONE_DAY, 21, zone), at(today - ONE_DAY, 23, zone), at(today, 3, zone),
                at(today, 12, zone), at(today, 23, zone), at(today + ONE_DAY, 3, zone), at(today + ONE_DAY, 7, zone)]

    return book


@pytest.mark.parametrize("hour", [23, 12])
def test_an_overnight_window_before_midnight_is_tonights(serve, fetch, config_for, hour):
    zone = zone_at(hour)
    now, starts, window = fetched(serve, fetch, config_for, zone, overnight_bookings(zone), **OVERNIGHT)
    today = now.date()
    assert window == f"dateRange.start/GE/{today:%Y%m%d}-2200/dateRange.start/LT/{today + ONE_DAY:%Y%m%d}-0600"
    assert starts == [at(today, 23, zone), at(today + ONE_DAY, 3, zone)]


def test_after_midnight_an_overnight_window_also_fetches_the_night_still_running(serve, fetch, config_for):
    zone = zone_at(2)
    now, starts, window = fetched(serve, fetch, config_for, zone, overnight_bookings(zone), **OVERNIGHT)
    today = now.date()
    last_night = f"dateRange.start/GE/{today - ONE_DAY:%Y%m%d}-2200/dateRange.start/LT/{today:%Y%m%d}-0600"
    tonight = f"dateRange.start/GE/{today:%Y%m%d}-2200/dateRange.start/LT/{today + ONE_DAY:%Y%m%d}-0600"
    assert window == f"OR/AND/{last_night}/CLOSE/AND/{tonight}/CLOSE/CLOSE"
    assert starts == [at(today - ONE_DAY, 23, zone), at(today, 3, zone), at(today, 23, zone),
                      at(today + ONE_DAY, 3, zone)]


@pytest.mark.parametrize("hour", [2, 20])
def test_a_daytime_window_is_todays_all_day(serve, fetch, config_for, hour):
    zone = zone_at(hour)
    now, starts, window = fetched(serve, fetch, config_for, zone, overnight_bookings(zone),
                                  daily_window={"start_time": [8, 0], "end_time": [18, 0]})
    today = now.date()
    assert window == f"dateRange.start/GE/{today:%Y%m%d}-0800/dateRange.start/LT/{today:%Y%m%d}-1800"
    assert starts == [at(today, 12, zone)]
