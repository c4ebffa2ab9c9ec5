"""Which bookings a fetch asks Calpendo for: those starting inside a window of the source's time zone.

- ``rolling`` (default): from ``lookback_minutes`` ago to ``lookahead_hours`` ahead;
- ``today``: from today's midnight to tomorrow's;
- ``daily_window``: today's occurrence of ``[start, end)`` (an end at or before the start is the next
  day) and, while yesterday's occurrence is still running (after midnight in an overnight window),
  that one too.

The window only decides what is fetched; what a scanner sees is the core's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pylantir_calpendo.config import CalpendoConfig, DailyWindow

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class FetchWindow:
    """Bookings starting at or after ``start`` and before ``end`` (both aware, in the source's zone)."""

    start: datetime
    end: datetime

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} {self.start.tzname()}"


def fetch_windows(cfg: CalpendoConfig, now: datetime) -> list[FetchWindow]:
    """The windows (one, or two for an overnight window after midnight) of bookings to fetch at ``now``."""
    zone = ZoneInfo(cfg.timezone)
    local_now = now.astimezone(zone)
    if cfg.daily_window is not None:
        return _daily(cfg.daily_window, local_now, zone)
    if cfg.window_mode == "today":
        today = local_now.date()
        return [FetchWindow(_at(today, time.min, zone), _at(today + ONE_DAY, time.min, zone))]
    return [FetchWindow(
        (now - timedelta(minutes=cfg.lookback_minutes)).astimezone(zone),
        (now + timedelta(hours=cfg.lookahead_hours)).astimezone(zone),
    )]


def _at(day: date, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=zone)


def _occurrence(window: DailyWindow, day: date, zone: ZoneInfo) -> FetchWindow:
    """The occurrence of ``window`` that starts on ``day``."""
    start_clock, end_clock = time(*window.start_time), time(*window.end_time)
    end_day = day + ONE_DAY if end_clock <= start_clock else day
    return FetchWindow(_at(day, start_clock, zone), _at(end_day, end_clock, zone))


def _daily(window: DailyWindow, local_now: datetime, zone: ZoneInfo) -> list[FetchWindow]:
    today = _occurrence(window, local_now.date(), zone)
    yesterday = _occurrence(window, local_now.date() - ONE_DAY, zone)
    return [yesterday, today] if local_now < yesterday.end else [today]
