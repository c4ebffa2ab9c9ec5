"""Quality gates: required fields, validity for the DICOM VR, plausible dates.

:func:`check` returns ``(field, reason)`` pairs; the reasons never quote values (they may be patient
data). Plausibility limits: a birth date lies between 1900-01-01 and today; a scheduled date lies at most
:data:`SCHEDULED_DAYS_BEFORE` days before and :data:`SCHEDULED_DAYS_AFTER` days after today (site time).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from pydicom.datadict import dictionary_VR

from pylantir.sync.fields import COLUMN_VRS, REQUIRED

SCHEDULED_DAYS_BEFORE = 366
SCHEDULED_DAYS_AFTER = 5 * 366
EARLIEST_BIRTH_DATE = "19000101"

#: Maximum length of one value per VR (PN: per component group).
MAX_LENGTH = {"AE": 16, "CS": 16, "SH": 16, "LO": 64, "PN": 64, "UI": 64, "DS": 16, "IS": 12, "AS": 4,
              "ST": 1024, "LT": 10240}
#: Plausible ranges of numeric columns (exclusive lower bound, inclusive upper bound).
NUMBER_RANGES = {"patient_weight_kg": (0.0, 700.0), "patient_size_m": (0.0, 3.0)}

_FORBIDDEN = re.compile(r"[\\\x00-\x1f\x7f]")
_PATTERNS = {
    "DA": (re.compile(r"\d{8}"), "not a valid DICOM date (YYYYMMDD)"),
    "TM": (re.compile(r"([01]\d|2[0-3])([0-5]\d([0-5]\d(\.\d{1,6})?)?)?"), "not a valid DICOM time (HHMMSS)"),
    "DT": (re.compile(r"\d{4}(\d{2}){0,5}(\.\d{1,6})?([+-]\d{4})?"), "not a valid DICOM date-time"),
    "CS": (re.compile(r"[A-Z0-9 _]*"), "not a valid code string (upper-case letters, digits, space, _)"),
    "UI": (re.compile(r"(0|[1-9]\d*)(\.(0|[1-9]\d*))+"), "not a valid UID (digits and dots)"),
    "IS": (re.compile(r"[+-]?\d+"), "not a valid integer string"),
    "AS": (re.compile(r"\d{3}[DWMY]"), "not a valid age string (nnnD/W/M/Y)"),
}
_SEX_CODES = frozenset({"M", "F", "O"})


def check(row: Mapping[str, Any], today: date) -> list[tuple[str, str]]:
    """Every problem of one mapped row, as ``(field, reason)``."""
    problems = [(name, "required, but missing or empty") for name in REQUIRED if not row.get(name)]
    for name, vr in COLUMN_VRS.items():
        value = row.get(name)
        if value is not None and value != "":
            reason = _vr_problem(vr, value) or _plausibility_problem(name, value, today)
            if reason:
                problems.append((name, reason))
    for keyword, value in (row.get("extra_attributes") or {}).items():
        reason = _vr_problem(dictionary_VR(keyword), value)
        if reason:
            problems.append((f"extra.{keyword}", reason))
    return problems


def _vr_problem(vr: str, value: Any) -> str | None:
    if vr == "DS":
        ok = isinstance(value, float) and math.isfinite(value)
        return None if ok else "not a finite number"
    text = str(value)
    limit = MAX_LENGTH.get(vr)
    if vr == "PN":
        groups = text.split("=")
        if len(groups) > 3 or any(len(group) > 64 or group.count("^") > 4 for group in groups):
            return "not a valid person name (at most 5 ^-separated components of 64 characters)"
    elif limit is not None and len(text) > limit:
        return f"longer than {limit} characters ({vr})"
    if _FORBIDDEN.search(text):
        return "contains a backslash or control characters"
    pattern = _PATTERNS.get(vr)
    if pattern is not None and not pattern[0].fullmatch(text):
        return pattern[1]
    if vr == "DA":
        return _date_problem(text)
    return None


def _date_problem(text: str) -> str | None:
    try:
        date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return "not a real calendar date"
    return None


def _plausibility_problem(name: str, value: Any, today: date) -> str | None:
    if name == "patient_sex" and value not in _SEX_CODES:
        return "must be M, F or O"
    if name == "patient_birth_date" and not EARLIEST_BIRTH_DATE <= value <= today.strftime("%Y%m%d"):
        return "implausible birth date (before 1900 or in the future)"
    if name == "scheduled_start_date":
        earliest = (today - timedelta(days=SCHEDULED_DAYS_BEFORE)).strftime("%Y%m%d")
        latest = (today + timedelta(days=SCHEDULED_DAYS_AFTER)).strftime("%Y%m%d")
        if not earliest <= value <= latest:
            return (
                f"implausible scheduled date (more than {SCHEDULED_DAYS_BEFORE} days past "
                f"or {SCHEDULED_DAYS_AFTER} days ahead)"
            )
    if name in NUMBER_RANGES:
        low, high = NUMBER_RANGES[name]
        if not low < value <= high:
            return f"implausible value (expected more than {low:g} and at most {high:g})"
    return None
