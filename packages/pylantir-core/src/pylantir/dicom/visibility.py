"""What a scanner sees of each source's items: the visibility windows, as one condition of the C-FIND query.

A source's ``visibility`` (else ``server.visibility``, which also covers items of sources no longer
configured and of the HTTP service's walk-ins) becomes ranges of the ``scheduled_start`` column
(``YYYYMMDDHHMMSS``, the site's wall clock): ``days_ahead: N`` is today 00:00 to the start of day N + 1; a
``daily_window`` is today's occurrence ``[start, end)`` (an end at or before the start is the next day's),
preceded by yesterday's while that one still runs (an overnight window after midnight). "Today" and "still
runs" are judged at the query's ``now`` in the visibility's ``timezone`` (else the site's), on the wall
clock, as the scheduled times are stored, so a window keeps its clock times across a DST change.

The condition (:meth:`VisibilityRules.condition`) ORs one term per distinct set of ranges: ``source_name IN
(...)`` and the ranges, then the default for every other source. Sources whose ranges equal the default's
are not named. When every term is bounded, the whole is ANDed with the envelope of all ranges: SQLite,
which has no statistics unless a site runs ANALYZE, would otherwise walk the whole ``scheduled_start``
index for a query without a date key (to save a sort) instead of searching the envelope's range.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, or_

from pylantir.config import DailyWindow, PylantirConfig, Visibility
from pylantir.store.dialect import SqlOperations
from pylantir.store.models import WorklistItem

ONE_DAY = timedelta(days=1)

#: ``[low, high)`` of ``scheduled_start`` (``YYYYMMDDHHMMSS``): low inclusive, high exclusive.
StartRange = tuple[str, str]


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S")


def _occurrence(window: DailyWindow, day: date) -> tuple[datetime, datetime]:
    """The (naive, wall-clock) start and end of the occurrence of ``window`` that starts on ``day``."""
    start, end = time(*window.start_time), time(*window.end_time)
    return datetime.combine(day, start), datetime.combine(day + ONE_DAY if end <= start else day, end)


def _merged(ranges: Iterable[tuple[datetime, datetime]]) -> tuple[StartRange, ...]:
    """Sorted ranges with overlapping or touching ones joined."""
    joined: list[list[datetime]] = []
    for low, high in sorted(ranges):
        if joined and low <= joined[-1][1]:
            joined[-1][1] = max(joined[-1][1], high)
        else:
            joined.append([low, high])
    return tuple((_stamp(low), _stamp(high)) for low, high in joined)


def visible_ranges(visibility: Visibility, now: datetime, site_timezone: str) -> tuple[StartRange, ...] | None:
    """The ``scheduled_start`` ranges ``visibility`` shows at ``now`` (aware); ``None`` for everything."""
    if visibility.all:
        return None
    local_now = now.astimezone(ZoneInfo(visibility.timezone or site_timezone)).replace(tzinfo=None)
    today = local_now.date()
    if visibility.days_ahead is not None:
        first = datetime.combine(today, time.min)
        return _merged([(first, first + (visibility.days_ahead + 1) * ONE_DAY)])
    assert visibility.daily_window is not None  # one of the three (Visibility checks it)
    occurrences = [_occurrence(visibility.daily_window, today)]
    yesterdays = _occurrence(visibility.daily_window, today - ONE_DAY)
    if local_now < yesterdays[1]:
        occurrences.append(yesterdays)
    return _merged(occurrences)


def _in_ranges(ranges: Sequence[StartRange]) -> ColumnElement[bool]:
    column = WorklistItem.scheduled_start
    return or_(*(and_(column >= low, column < high) for low, high in ranges))


@dataclass(frozen=True)
class VisibilityRules:
    """The visibility of every configured source and the default, as configured (see the module's text)."""

    default: Visibility = field(default_factory=lambda: Visibility(all=True))
    #: (source name, its own visibility), in config order.
    per_source: tuple[tuple[str, Visibility], ...] = field(default=())
    site_timezone: str = "UTC"

    @classmethod
    def from_config(cls, config: PylantirConfig) -> VisibilityRules:
        """The rules of ``config``: ``server.visibility``, each source's own (enabled or not), ``timezone``."""
        own = tuple((s.name, s.visibility) for s in config.data_sources if s.visibility is not None)
        return cls(config.server.visibility, own, config.timezone)

    def condition(self, now: datetime, sql: SqlOperations) -> ColumnElement[bool] | None:
        """The WHERE condition of what scanners see at ``now`` (aware); ``None`` when they see everything."""
        default = visible_ranges(self.default, now, self.site_timezone)
        groups: dict[tuple[StartRange, ...] | None, list[str]] = {}
        for name, visibility in self.per_source:
            ranges = visible_ranges(visibility, now, self.site_timezone)
            if ranges != default:
                groups.setdefault(ranges, []).append(name)
        if not groups:
            return None if default is None else _in_ranges(default)
        source = sql.unindexed(WorklistItem.source_name)  # the start range drives the query, not the owner
        terms = [source.in_(names) if ranges is None else and_(source.in_(names), _in_ranges(ranges))
                 for ranges, names in groups.items()]
        others = source.not_in([name for names in groups.values() for name in names])
        terms.append(others if default is None else and_(others, _in_ranges(default)))
        condition = or_(*terms)
        every = [*groups, default]
        if None in every:
            return condition
        bounds = [bound for ranges in every if ranges is not None for bound in ranges]
        column = WorklistItem.scheduled_start
        low, high = min(low for low, _ in bounds), max(high for _, high in bounds)
        return and_(column >= low, column < high, condition)
