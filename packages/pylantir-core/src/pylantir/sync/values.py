"""Normalisation of source values to DICOM form: dates, times, date-times, person names, codes.

Every normaliser takes the raw value and returns the DICOM-form value, or raises a :class:`ValueError`
(:class:`ValueProblem`, whose message never quotes the value: it may be patient data) when the value cannot be read
unambiguously. The sync engine reports such a failure as a rejection of the row, naming the field.

Accepted input without any ``input_formats``:

- dates: ``YYYYMMDD``, ``YYYY-MM-DD``, ``YYYY/MM/DD``, an ISO date-time (its date is taken), a
  :class:`datetime.date`, or a Unix timestamp in seconds (an int or float, or a string of 9 or more
  digits; an 8-digit int such as ``19900131`` is read as a date). Slash and dot dates with the year last
  (``11/02/1971``, ``11.02.1971``) are read in the order the source declares (``date_order``:
  ``day_first`` or ``month_first``); without a declaration the day and month are never guessed: such a
  date is accepted only when the month-first reading is no date (``31/01/1990``) or reads the same
  (``05/05/1990``), any other is refused naming the fix. A two-digit year is always refused (the
  century is not known) unless ``input_formats`` says how to read it;
- times: ``HHMM``, ``HHMMSS[.ffffff]``, ``HH:MM[:SS[.ffffff]]``, an ISO date-time (its time is taken),
  a :class:`datetime.time`;
- person names: ``Family^Given...`` as is, ``Family, Given [Middle]``, or ``Given [Middle] Family``
  (``name_order="family_given"`` reads ``Family Given [Middle]`` instead).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

LB_TO_KG = 0.45359237

_ISO_DATE = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})")
_SLASH_YMD = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})")
_YEAR_LAST = re.compile(r"(\d{1,2})([/.])(\d{1,2})\2(\d{4})")
_TWO_DIGIT_YEAR = re.compile(r"\d{1,2}([/.-])\d{1,2}\1\d{2}")
_TIMESTAMP = re.compile(r"-?\d{9,}(\.\d+)?")
_DICOM_TIME = re.compile(r"(\d{2})(\d{2})(\d{2})?(\.\d{1,6})?")
_COLON_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]")

NAME_ORDERS = ("given_family", "family_given")
#: How a source's slash and dot dates with the year last are read (its ``date_order``).
DATE_ORDERS = ("day_first", "month_first")
#: The fix every refused date names.
DATE_FIX = 'set the source\'s "date_order" ("day_first"/"month_first") or the field\'s "input_formats": ["%m/%d/%Y"]'


class ValueProblem(ValueError):
    """A value that cannot be normalised; the message says why without quoting the value."""


def _iso_date(match: re.Match[str]) -> str:
    """``YYYYMMDD`` from an :data:`_ISO_DATE` match (its groups are digits of the right width already)."""
    digits = match[1] + match[2] + match[3]
    try:
        date.fromisoformat(digits)
    except ValueError:
        raise ValueProblem(f"not a valid date (no such day or month); {DATE_FIX}") from None
    return digits


def _strptime(text: str, input_formats: Sequence[str]) -> datetime:
    for pattern in input_formats:
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    raise ValueProblem(f"does not match any of the field's input_formats {list(input_formats)}; add its form there")


def _from_timestamp(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


def to_date(value: Any, input_formats: Sequence[str] = (), date_order: str | None = None) -> str:
    """A date as DICOM DA ``YYYYMMDD``; ``date_order`` reads slash and dot dates with the year last."""
    if value.__class__ is str and not input_formats and (match := _ISO_DATE.fullmatch(value)):
        return _iso_date(match)
    if isinstance(value, datetime):
        return value.strftime("%Y%m%d")
    if isinstance(value, date):
        return value.strftime("%Y%m%d")
    if isinstance(value, int) and not isinstance(value, bool) and _ISO_DATE.fullmatch(str(value)):
        value = str(value)  # 19900131 is a date, not a 1970 timestamp
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _from_timestamp(value).strftime("%Y%m%d")
    text = str(value).strip()
    if input_formats:
        return _strptime(text, input_formats).strftime("%Y%m%d")
    if match := _ISO_DATE.fullmatch(text):
        return _iso_date(match)
    if match := _SLASH_YMD.fullmatch(text):
        return _valid_date(int(match[1]), int(match[2]), int(match[3]))
    if match := _YEAR_LAST.fullmatch(text):
        return _year_last(int(match[1]), int(match[3]), int(match[4]), date_order)
    if _TWO_DIGIT_YEAR.fullmatch(text):
        raise ValueProblem('has a two-digit year, whose century is not known: export four-digit years, or set '
                           'the field\'s "input_formats", e.g. "input_formats": ["%m/%d/%y"] (Python reads 69-99 '
                           'as 19xx and 00-68 as 20xx)')
    if _ISO_DATETIME.match(text):
        return datetime.fromisoformat(text).strftime("%Y%m%d")
    if _TIMESTAMP.fullmatch(text):
        return _from_timestamp(float(text)).strftime("%Y%m%d")
    raise ValueProblem(f"not a recognised date (use YYYY-MM-DD, or {DATE_FIX})")


def _valid_date(year: int, month: int, day: int) -> str:
    try:
        date(year, month, day)
    except ValueError:
        raise ValueProblem(f"not a valid date (no such day or month); if the source's order differs, {DATE_FIX}"
                           ) from None
    return f"{year:04d}{month:02d}{day:02d}"


def _year_last(first: int, second: int, year: int, date_order: str | None) -> str:
    """``first/second/year`` in the declared order; undeclared, only when there is one reading."""
    if date_order == "day_first":
        return _valid_date(year, second, first)
    if date_order == "month_first":
        return _valid_date(year, first, second)
    if first == second or first > 12:  # both readings agree, or the first number cannot be the month
        return _valid_date(year, second, first)
    raise ValueProblem(f"day/month order not declared (never guessed): {DATE_FIX}")


def _dicom_time(match: re.Match[str]) -> str:
    """``HHMMSS[.ffffff]`` from a :data:`_DICOM_TIME` or :data:`_COLON_TIME` match (digit groups)."""
    hour, minute, second, fraction = match.groups("")
    time(int(hour), int(minute), int(second or 0))  # raises ValueError for 25:00
    return hour.zfill(2) + minute + (second or "00") + fraction


def to_time(value: Any, input_formats: Sequence[str] = ()) -> str:
    """A time as DICOM TM ``HHMMSS[.ffffff]``."""
    if isinstance(value, (datetime, time)):
        return value.strftime("%H%M%S")
    text = str(value).strip()
    if input_formats:
        return _strptime(text, input_formats).strftime("%H%M%S")
    for pattern in (_DICOM_TIME, _COLON_TIME):
        if match := pattern.fullmatch(text):
            return _dicom_time(match)
    if _ISO_DATETIME.match(text):
        return datetime.fromisoformat(text).strftime("%H%M%S")
    raise ValueProblem("not a recognised time (use HH:MM[:SS], HHMMSS, or set input_formats)")


def to_datetime(value: Any, input_formats: Sequence[str] = ()) -> str:
    """A date-time as DICOM DT ``YYYYMMDDHHMMSS``."""
    if isinstance(value, datetime):
        return value.strftime("%Y%m%d%H%M%S")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _from_timestamp(value).strftime("%Y%m%d%H%M%S")
    text = str(value).strip()
    if input_formats:
        return _strptime(text, input_formats).strftime("%Y%m%d%H%M%S")
    if _TIMESTAMP.fullmatch(text):
        return _from_timestamp(float(text)).strftime("%Y%m%d%H%M%S")
    try:
        return datetime.fromisoformat(text).strftime("%Y%m%d%H%M%S")
    except ValueError:
        raise ValueProblem(
            'not a recognised date-time (use ISO 8601, or set the field\'s "input_formats", '
            'e.g. "input_formats": ["%m/%d/%Y %H:%M"])'
        ) from None


def to_person_name(value: Any, name_order: str = "given_family") -> str:
    """A person name as DICOM PN ``Family^Given^Middle``."""
    text = " ".join(_text_of(value).split())
    if "^" in text or not text:
        return text
    if "," in text:
        family, _, given = text.partition(",")
        return "^".join(part for part in (family.strip(), *given.split()) if part)
    parts = text.split(" ")
    if len(parts) == 1:
        return parts[0]
    if name_order == "family_given":
        family, given, middle = parts[0], parts[1], " ".join(parts[2:])
    else:
        family, given, middle = parts[-1], parts[0], " ".join(parts[1:-1])
    return f"{family}^{given}^{middle}" if middle else f"{family}^{given}"


_SEX = {"M": "M", "MALE": "M", "F": "F", "FEMALE": "F", "O": "O", "OTHER": "O"}


def to_sex(value: Any) -> str:
    """Patient sex as DICOM CS ``M``, ``F`` or ``O`` (``male``/``female``/``other`` accepted)."""
    code = _SEX.get(_text_of(value).strip().upper())
    if code is None:
        raise ValueProblem("not a recognised sex (M, F, O, male, female, other; use 'map' for codes)")
    return code


def to_number(value: Any) -> float:
    """A decimal number (weights, sizes); a decimal comma is accepted."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = _text_of(value).strip().replace(",", ".")
    try:
        return float(text)
    except ValueError:
        raise ValueProblem("not a number") from None


def pounds_to_kg(value: Any) -> float:
    """A weight in pounds, converted to kilograms (rounded to 0.1 kg)."""
    return round(to_number(value) * LB_TO_KG, 1)


def to_text(value: Any) -> str:
    """Any scalar as stripped text (``42`` -> ``"42"``)."""
    return value.strip() if value.__class__ is str else _text_of(value).strip()


def to_upper(value: Any) -> str:
    """Stripped upper-case text (DICOM code strings)."""
    return (value if value.__class__ is str else _text_of(value)).strip().upper()


def to_lower(value: Any) -> str:
    """Stripped lower-case text."""
    return _text_of(value).strip().lower()


def _text_of(value: Any) -> str:
    """A scalar as text; a list or an object is not one value (a multi-valued target splits lists first)."""
    if value.__class__ is not str and isinstance(value, (list, tuple, dict)):
        raise ValueProblem("holds several values or an object, but the field holds one value")
    return str(value)


_INTEGER = re.compile(r"[+-]?\d+")
_TAG = re.compile(r"\(?([0-9A-Fa-f]{4}),?([0-9A-Fa-f]{4})\)?")


def to_integer(value: Any) -> int:
    """A whole number (the binary integer VRs US, SS, UL, SL, SV, UV, and IS): ``4``, ``"4"``, ``4.0``."""
    if isinstance(value, bool):
        raise ValueProblem("not an integer (a true/false value)")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = _text_of(value).strip()
    if not _INTEGER.fullmatch(text):
        raise ValueProblem("not an integer")
    return int(text)


def to_tag(value: Any) -> int:
    """A DICOM tag (VR AT) as an integer: ``(0010,0010)``, ``00100010``, ``0010,0010`` or a keyword."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = _text_of(value).strip()
    if match := _TAG.fullmatch(text):
        return int(match[1] + match[2], 16)
    from pylantir.datadict import keyword_tag

    if (tag := keyword_tag(text)) is not None:
        return tag
    raise ValueProblem("not a DICOM tag ((gggg,eeee), ggggeeee or a keyword)")


def each_value(normalise: Callable[[Any], Any], *, joined: bool) -> Callable[[Any], Any]:
    """``normalise`` applied to every value of a multi-valued field.

    Values come as a list, or as text separated by ``\\`` (DICOM's value delimiter); empty ones are dropped.
    The result is the values joined by ``\\`` when ``joined`` (a column), else a list, or the single value
    when there is one (an extra attribute, stored as JSON).
    """

    def normalise_each(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            parts = list(value)
        elif isinstance(value, str):
            parts = value.split("\\")
        else:
            parts = [value]
        values = [normalise(part) for part in parts if part is not None and str(part).strip()]
        if not values:
            return None
        if joined:
            return "\\".join(map(str, values))
        return values if len(values) > 1 else values[0]

    return normalise_each



#: The ``format`` names a rich mapping entry may ask for. ``date``/``time``/``datetime`` take
#: ``input_formats``; ``name`` takes ``name_order``.
FORMATS: dict[str, Callable[..., Any]] = {
    "date": to_date,
    "time": to_time,
    "datetime": to_datetime,
    "name": to_person_name,
    "sex": to_sex,
    "number": to_number,
    "text": to_text,
    "upper": to_upper,
    "lower": to_lower,
}

#: Every normaliser by name: the user-facing :data:`FORMATS` plus the automatic ones of virtual targets.
ALL_FORMATS: dict[str, Callable[..., Any]] = {
    **FORMATS, "pounds_to_kg": pounds_to_kg, "integer": to_integer, "tag": to_tag,
}
