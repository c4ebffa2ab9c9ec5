"""C-FIND identifier -> one SQLAlchemy query (PS3.4 C.2.2.2 matching, Annex K keys).

Every supported matching type becomes a SQL condition, so all matching happens in the (indexed) database:
single value, universal (zero length or a lone ``*``), wild card ``*``/``?`` (LIKE or GLOB with escaping),
list of UID, DA/TM ranges, the combined Scheduled Procedure Step Start Date + Time interval on
``WorklistItem.scheduled_start`` and sequence matching inside the Scheduled Procedure Step Sequence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydicom import Dataset
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.multival import MultiValue
from sqlalchemy import ColumnElement, Select, func, or_, select

from pylantir.dicom.attributes import SPS_SEQUENCE, START_DATE, START_TIME, STEP_LEVEL, TOP_LEVEL, IdentifierLevel
from pylantir.store.catalogue import STATUS, Attribute, Matching
from pylantir.store.dialect import SqlOperations
from pylantir.store.models import WorklistItem

# Attributes that describe the request and are never matched (PS3.4 K.2.2.2, C.2.2.2).
NEVER_MATCHED = frozenset({"SpecificCharacterSet", "TimezoneOffsetFromUTC"})

_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
# HH, HHMM, HHMMSS or HHMMSS.F to HHMMSS.FFFFFF: a fraction only after the seconds (PS3.5 Table 6.2-1, TM)
_TIME = re.compile(r"^(\d{2})(?:(\d{2})(?:(\d{2})(\.\d{1,6})?)?)?$")


class InvalidIdentifier(ValueError):
    """The identifier cannot be processed (answered with A900). The message names keywords, never values.

    ``keyword`` and ``tag`` name the offending element (the tag is looked up when only the keyword is given).
    """

    def __init__(self, message: str, keyword: str | None = None, tag: int | None = None):
        super().__init__(message)
        self.keyword = keyword
        self.tag = tag if tag is not None else (tag_for_keyword(keyword) if keyword else None)


@dataclass(frozen=True)
class MatchSettings:
    """How to match: worklist statuses offered, the database's SQL (``Database.sql``), PN case handling."""

    worklist_statuses: tuple[str, ...]
    sql: SqlOperations
    case_insensitive_names: bool = True


@dataclass
class WorklistQuery:
    """The SELECT for an identifier, and the keys that carried a value but were not used for matching."""

    statement: Select[WorklistItem]
    unmatched_keys: list[str] = field(default_factory=list)


def build_query(identifier: Dataset, settings: MatchSettings) -> WorklistQuery:
    """Turn a C-FIND identifier into a query over ``WorklistItem``, ordered by start date-time."""
    matcher = _Matcher(settings)
    matcher.match_level(identifier, TOP_LEVEL, skip={SPS_SEQUENCE})
    if SPS_SEQUENCE in identifier:
        sps = identifier[SPS_SEQUENCE]
        if sps.VR != "SQ":
            raise InvalidIdentifier("must be a sequence", SPS_SEQUENCE)
        if len(sps.value) > 1:
            raise InvalidIdentifier("must hold at most one item (PS3.4 C.2.2.2.6)", SPS_SEQUENCE)
        if len(sps.value) == 1:
            item = sps.value[0]
            matcher.match_level(item, STEP_LEVEL, skip={START_DATE, START_TIME})
            matcher.match_start(_text(item.get(START_DATE), START_DATE), _text(item.get(START_TIME), START_TIME))
    statement = (
        select(WorklistItem)
        .where(settings.sql.unindexed(getattr(WorklistItem, STATUS)).in_(settings.worklist_statuses),
               *matcher.conditions)
        .order_by(WorklistItem.scheduled_start, WorklistItem.id)
    )
    return WorklistQuery(statement, matcher.unmatched)


class _Matcher:
    def __init__(self, settings: MatchSettings):
        self.settings = settings
        self.sql = settings.sql
        self.conditions: list[ColumnElement[bool]] = []
        self.unmatched: list[str] = []

    def match_level(self, dataset: Dataset, level: IdentifierLevel, skip: set[str]) -> None:
        for element in dataset:
            keyword = element.keyword
            if keyword in skip or keyword in NEVER_MATCHED or element.VR == "SQ" or _is_universal(element.value):
                continue
            entry = level.attributes.get(keyword)
            if entry is None or entry.matching is Matching.RETURNED:
                self.unmatched.append(keyword or str(element.tag))
                continue
            column = getattr(WorklistItem, entry.column)
            if entry.few_values:
                column = self.sql.unindexed(column)
            self.conditions.append(self._element_condition(column, entry, element))

    def _element_condition(self, column: Any, entry: Attribute, element: DataElement) -> ColumnElement[bool]:
        """The condition of one key, by the attribute's matching rule (and VR) in the catalogue."""
        values = _values(element.value)
        if entry.matching is Matching.RANGE:
            if len(values) != 1:
                raise InvalidIdentifier("a date key holds one value or one range", element.keyword)
            return _between(column, *parse_date_range(str(values[0]), element.keyword))
        if entry.values > 1:  # a stored value matches when any of its values does
            return or_(*(self.sql.has_value_matching(column, str(value)) if _has_wildcard(str(value))
                         else self.sql.has_value(column, str(value)) for value in values))
        if entry.matching is Matching.UID_LIST or len(values) > 1:
            return column.in_(values)
        value = str(values[0])
        if entry.vr == "PN":
            value = value.rstrip("^=")
        fold = entry.vr == "PN" and self.settings.case_insensitive_names
        if _has_wildcard(value):
            return self.sql.wildcard(column, value, fold=fold)
        if fold:
            return self.sql.folded(column) == self.sql.folded(value)
        return column == value

    def match_start(self, date_key: str, time_key: str) -> None:
        """Combined Scheduled Procedure Step Start Date + Time (one date-time interval, PS3.4 C.2.2.2.5)."""
        column = WorklistItem.scheduled_start
        times = parse_time_range(time_key, START_TIME) if time_key and time_key != "*" else None
        if date_key and date_key != "*":
            low_date, high_date = parse_date_range(date_key, START_DATE)
            low_time, high_time = times or (None, None)
            low = low_date + (low_time or "000000") if low_date else None
            high = high_date + (high_time or "235959") if high_date else None
            self.conditions.append(_between(column, low, high))
        elif times:
            self.conditions.append(_between(func.substr(column, 9, 6), *times))


def _has_wildcard(value: str) -> bool:
    return "*" in value or "?" in value


def _between(column: Any, low: str | None, high: str | None) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = []
    if low is not None:
        parts.append(column >= low)
    if high is not None:
        parts.append(column <= high)
    if len(parts) == 1:
        return parts[0]
    return parts[0] & parts[1]


def _is_universal(value: Any) -> bool:
    values = _values(value)
    return not values or values == ["*"]


def _values(value: Any) -> list[Any]:
    if value is None:
        return []
    items: Iterable[Any] = value if isinstance(value, (MultiValue, list, tuple)) else [value]
    texts = [str(v) if not isinstance(v, (int, float)) else v for v in items]
    return [v for v in texts if v != ""]


def _text(value: Any, keyword: str) -> str:
    values = _values(value)
    if len(values) > 1:
        raise InvalidIdentifier("a date or time key holds one value or one range", keyword)
    return str(values[0]).strip() if values else ""


def _split_range(value: str, keyword: str) -> tuple[str, str]:
    if value.count("-") > 1:
        raise InvalidIdentifier("a range is 'A-B', '-B' or 'A-'", keyword)
    if "-" in value:
        low, high = value.split("-")
        if not low and not high:
            raise InvalidIdentifier("a range needs at least one end", keyword)
        return low.strip(), high.strip()
    return value.strip(), value.strip()


def parse_date_range(value: str, keyword: str = "date") -> tuple[str | None, str | None]:
    """``YYYYMMDD``, ``A-B``, ``-B`` or ``A-`` -> (low, high) dates, inclusive; None for an open end.

    Each date must exist in the calendar (``20260230`` and ``00000000`` are refused).
    """
    low, high = _split_range(value.replace(".", ""), keyword)
    for day in (low, high):
        if day:
            _check_date(day, keyword)
    return low or None, high or None


def _check_date(value: str, keyword: str) -> None:
    parsed = _DATE.match(value)
    if not parsed:
        raise InvalidIdentifier("dates are YYYYMMDD (ranges A-B, -B, A-)", keyword)
    try:
        date(*(int(part) for part in parsed.groups()))
    except ValueError:
        raise InvalidIdentifier("not a calendar date", keyword) from None


def parse_time_range(value: str, keyword: str = "time") -> tuple[str | None, str | None]:
    """``HH[MM[SS[.f]]]``, ``A-B``, ``-B`` or ``A-`` -> (low, high) as HHMMSS; a partial time covers its span."""
    low, high = _split_range(value.replace(":", ""), keyword)
    return _time_bound(low, "00", keyword), _time_bound(high, "59", keyword)


def _time_bound(value: str, fill: str, keyword: str) -> str | None:
    if not value:
        return None
    parsed = _TIME.match(value)
    if not parsed:
        raise InvalidIdentifier("times are HHMMSS[.FFFFFF] (ranges A-B, -B, A-)", keyword)
    hours, minutes, seconds, _fraction = parsed.groups()
    if int(hours) > 23 or int(minutes or 0) > 59 or int(seconds or 0) > 60:  # 60: a leap second
        raise InvalidIdentifier("not a time of day", keyword)
    return hours + (minutes or fill) + (seconds or fill)


__all__ = [
    "InvalidIdentifier",
    "MatchSettings",
    "WorklistQuery",
    "build_query",
    "parse_date_range",
    "parse_time_range",
]
