"""Clocks: the system clock, and a manual one that tests (and plugin authors' tests) move by hand."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


def as_utc(moment: datetime) -> datetime:
    """A stored timestamp as timezone-aware UTC (SQLite hands them back naive)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def site_today(timezone: str, now: datetime | None = None) -> date:
    """Today in the site's time zone (``timezone`` of the configuration): the one definition of "today".

    ``now`` (timezone-aware) defaults to the current time.
    """
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(timezone)).date()


class Clock(Protocol):
    """What the scheduler asks of a clock."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        """The current time in UTC."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to; thread-safe."""

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The clock's current time."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward and return the new time."""
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now
