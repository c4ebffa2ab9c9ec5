"""Quality gates: required fields, validity for the DICOM VR, plausible dates and measurements.

Every value is checked by the VR of the attribute it fills (the columns' from the catalogue, an
``extra.<Keyword>``'s from the data dictionary): text by length and characters, the binary numbers (US,
SS, UL, SL, SV, UV, FL, FD), IS and AT by type and range, and a multi-valued field by each of its values
(an attribute whose multiplicity is 1 holds one value).

:class:`QualityGate` returns ``(field, reason)`` pairs; the reasons never quote values (they may be
patient data). Plausibility limits: a birth date lies between 1900-01-01 and today; a scheduled date lies
at most :data:`SCHEDULED_DAYS_BEFORE` days before and :data:`SCHEDULED_DAYS_AFTER` days after today (site
time); weights and sizes lie in :data:`NUMBER_RANGES`.

Dates and times reach the gate already normalised by the mapping (which rejects impossible ones such as
31 February), so the gate checks their DICOM form only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from functools import cache
from typing import Any

from pylantir.datadict import keyword_vm, keyword_vr
from pylantir.store.catalogue import BY_COLUMN, EXTRA_COLUMNS, Attribute
from pylantir.sync.fields import COLUMN_VRS, REQUIRED, Target

SCHEDULED_DAYS_BEFORE = 366
SCHEDULED_DAYS_AFTER = 5 * 366
EARLIEST_BIRTH_DATE = "19000101"
#: Plausible ranges of numeric columns (exclusive lower bound, inclusive upper bound).
NUMBER_RANGES = {"patient_weight_kg": (0.0, 700.0), "patient_size_m": (0.0, 3.0)}

#: Distinct valid texts per column whose verdict a gate remembers.
KNOWN_VALID = 512

_TEXT = r"[^\\\x00-\x1f\x7f]"
_PN_GROUP = r"(?=[^=]{0,64}(?:=|$))[^\\^=\x00-\x1f\x7f]*(?:\^[^\\^=\x00-\x1f\x7f]*){0,4}"


#: What ST, LT and UT may hold (PS3.5 6.1.3, 6.2): any character but the control characters other than TAB,
#: LF, FF, CR and ESC; a backslash is text there, not a value separator (these VRs hold one value).
_FREE_TEXT = r"[^\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]"


def _free_text(limit: int | None, vr: str) -> tuple[re.Pattern[str], str]:
    size = "*" if limit is None else f"{{0,{limit}}}"
    return re.compile(_FREE_TEXT + size), (
        f"not valid for VR {vr} ({f'at most {limit} characters, ' if limit else ''}"
        "no control characters but line breaks)"
    )


def _text(limit: int | None, vr: str) -> tuple[re.Pattern[str], str]:
    size = "*" if limit is None else f"{{0,{limit}}}"
    return re.compile(_TEXT + size), (
        f"not valid for VR {vr} ({f'at most {limit} characters, ' if limit else ''}"
        "no backslash or control characters)"
    )


#: VR -> (pattern a value must fully match, reason when it does not).
VR_RULES: dict[str, tuple[re.Pattern[str], str]] = {
    "AE": _text(16, "AE"),
    "SH": _text(16, "SH"),
    "LO": _text(64, "LO"),
    "ST": _free_text(1024, "ST"),
    "LT": _free_text(10240, "LT"),
    "PN": (re.compile(f"{_PN_GROUP}(?:={_PN_GROUP}){{0,2}}"),
           "not a valid person name (up to 5 ^-separated components, 64 characters)"),
    "CS": (re.compile(r"[A-Z0-9 _]{0,16}"), "not a valid code string (upper-case letters, digits, space, _)"),
    "UI": (re.compile(r"(?=[\d.]{1,64}$)(?:0|[1-9]\d*)(?:\.(?:0|[1-9]\d*))+"), "not a valid UID"),
    "DA": (re.compile(r"\d{8}"), "not a valid DICOM date (YYYYMMDD)"),
    "TM": (re.compile(r"(?:[01]\d|2[0-3])(?:[0-5]\d(?:[0-5]\d(?:\.\d{1,6})?)?)?"), "not a valid DICOM time"),
    "DT": (re.compile(r"\d{4}(?:\d{2}){0,5}(?:\.\d{1,6})?(?:[+-]\d{4})?"), "not a valid DICOM date-time"),
    "AS": (re.compile(r"\d{3}[DWMY]"), "not a valid age string (nnnD/W/M/Y)"),
    "UC": _text(None, "UC"),
    "UR": (re.compile(r"[^\s\\]*"), "not valid for VR UR (a URI or URL: no spaces or backslash)"),
    "UT": _free_text(None, "UT"),
}
#: The integer VRs (stored as numbers) and their ranges, inclusive.
INTEGER_RANGES: dict[str, tuple[int, int]] = {
    "US": (0, 2**16 - 1), "SS": (-(2**15), 2**15 - 1), "UL": (0, 2**32 - 1), "SL": (-(2**31), 2**31 - 1),
    "UV": (0, 2**64 - 1), "SV": (-(2**63), 2**63 - 1), "IS": (-(2**31), 2**31 - 1), "AT": (0, 2**32 - 1),
}
#: The floating-point VRs (stored as numbers) and their largest magnitude.
FLOAT_LIMITS: dict[str, float] = {"FL": 3.4028234663852886e38, "FD": math.inf, "DS": math.inf}
_SEX_CODES = frozenset({"M", "F", "O"})


@cache
def _extra_vr(keyword: str) -> tuple[str, bool]:
    """The VR of an extra's attribute, and whether it holds several values."""
    return keyword_vr(keyword), keyword_vm(keyword) != "1"


def _column_rule(entry: Attribute) -> tuple[Callable[[str], Any], str]:
    """The full match of a text column's values, and the reason when it fails (several values: each)."""
    pattern, reason = VR_RULES[entry.vr]
    if entry.values == 1:
        return pattern.fullmatch, reason
    several = re.compile(f"{pattern.pattern}(?:\\\\{pattern.pattern}){{0,{entry.values - 1}}}")
    return several.fullmatch, f"{reason}; at most {entry.values} values, separated by \\"


_COLUMN_RULES = {name: _column_rule(BY_COLUMN[name]) for name, vr in COLUMN_VRS.items() if vr != "DS"}
_EXTRAS = frozenset(EXTRA_COLUMNS.values())
_PLAUSIBLE = frozenset({"patient_birth_date", "scheduled_start_date", "patient_sex", *NUMBER_RANGES})


class QualityGate:
    """Checks mapped rows against the rules, judging dates relative to ``today`` (site time)."""

    def __init__(self, today: date):
        self._ranges = {
            "patient_birth_date": (EARLIEST_BIRTH_DATE, today.strftime("%Y%m%d"),
                                   "implausible birth date (before 1900 or in the future)"),
            "scheduled_start_date": (
                (today - timedelta(days=SCHEDULED_DAYS_BEFORE)).strftime("%Y%m%d"),
                (today + timedelta(days=SCHEDULED_DAYS_AFTER)).strftime("%Y%m%d"),
                f"implausible scheduled date (more than {SCHEDULED_DAYS_BEFORE} days past "
                f"or {SCHEDULED_DAYS_AFTER} days ahead)",
            ),
        }

        #: column -> (full match of its VR's pattern, reason when it fails, whether plausibility is checked,
        #: texts that already passed both: up to KNOWN_VALID per column, as codes and dates repeat)
        self._rules = {name: (fullmatch, reason, name in _PLAUSIBLE, set[str]())
                       for name, (fullmatch, reason) in _COLUMN_RULES.items()}
        #: column -> its texts that passed (the sets of ``_rules``), looked up first: most values repeat
        self._valid = {name: rule[3] for name, rule in self._rules.items()}

    def check(self, row: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Every problem of one mapped row, as ``(field, reason)``: :meth:`missing`, then each value's."""
        problems = self.missing(row)
        passed = self._valid
        for name, value in row.items():
            if value.__class__ is str:
                if not value or value in passed.get(name, ()):
                    continue
            elif value is None:
                continue
            problems.extend(self._problems(name, value))
        return problems

    def missing(self, row: Mapping[str, Any]) -> list[tuple[str, str]]:
        """The required fields that ``row`` lacks or leaves empty, as problems."""
        get = row.get
        if all(map(get, REQUIRED)):
            return []
        return [(name, "required, but missing or empty") for name in REQUIRED if not get(name)]

    def passes(self, target: Target) -> Callable[[Any], bool]:
        """Whether a normalised value of ``target`` (not ``None``) has none of the problems :meth:`check` finds
        in it: what the row pipeline's compiled mapping asks of each value (``FieldMapping.checked``)."""
        if target.extra_keyword is not None:
            keyword = target.extra_keyword
            return lambda value: _extra_problem(keyword, value) is None
        column = target.column
        problems = self._problems
        matches = self.text_match(target)
        if matches is None:
            return lambda value: (value.__class__ is str and not value) or not problems(column, value)

        def passes(value: Any) -> bool:  # text: the VR pattern is the whole check
            if value.__class__ is str:
                return not value or matches(value) is not None
            return not problems(column, value)

        return passes

    def text_match(self, target: Target) -> Callable[[str], Any] | None:
        """The full match of its VR's pattern when that is the whole check of a text value of ``target`` (what
        :meth:`passes` asks of it), else ``None`` (no pattern, plausibility checked too, or an extra)."""
        rule = None if target.extra_keyword is not None else self._rules.get(target.column)
        if rule is None or rule[2]:
            return None
        return rule[0]

    def _problems(self, name: str, value: Any) -> list[tuple[str, str]]:
        """The problems of one value of a row that is not empty (an extras column's: its keywords' values)."""
        rule = self._rules.get(name)
        if rule is None:
            return self._other_problems(name, value)
        matches, reason, plausible, valid = rule
        text = value.__class__ is str
        if not matches(value if text else str(value)):
            return [(name, reason)]
        if plausible and (implausible := self._implausible(name, value)):
            return [(name, implausible)]
        if text and len(valid) < KNOWN_VALID:
            valid.add(value)
        return []

    def _other_problems(self, name: str, value: Any) -> list[tuple[str, str]]:
        """Problems of the extras (by each keyword's VR and multiplicity) and of the numeric (DS) columns."""
        if name in _EXTRAS:
            return [(f"extra.{keyword}", reason) for keyword, extra in value.items()
                    if (reason := _extra_problem(keyword, extra))]
        reason = _vr_problem(COLUMN_VRS[name], value) or self._implausible(name, value)
        return [(name, reason)] if reason else []

    def _implausible(self, name: str, value: Any) -> str | None:
        if name in self._ranges:
            low, high, reason = self._ranges[name]
            return None if low <= value <= high else reason
        if name == "patient_sex" and value not in _SEX_CODES:
            return "must be M, F or O"
        if name in NUMBER_RANGES:
            low_number, high_number = NUMBER_RANGES[name]
            if not low_number < value <= high_number:
                return f"implausible value (expected more than {low_number:g} and at most {high_number:g})"
        return None


def _extra_problem(keyword: str, value: Any) -> str | None:
    vr, several = _extra_vr(keyword)
    if isinstance(value, list):
        if not several:
            return "holds several values, but the attribute holds one"
        return next((reason for item in value if (reason := _vr_problem(vr, item))), None)
    return _vr_problem(vr, value)


def _vr_problem(vr: str, value: Any) -> str | None:
    """Why one value does not fit ``vr`` (in the form the response encodes), or None."""
    if vr in INTEGER_RANGES:
        low, high = INTEGER_RANGES[vr]
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return None
        return f"not valid for VR {vr} (an integer from {low} to {high})"
    if vr in FLOAT_LIMITS:
        if isinstance(value, float) and math.isfinite(value) and abs(value) <= FLOAT_LIMITS[vr]:
            return None
        return "not a finite number" + (f" within the range of VR {vr}" if vr == "FL" else "")
    if not isinstance(value, str):
        return f"not valid for VR {vr} (text expected)"
    pattern, reason = VR_RULES[vr]
    return None if pattern.fullmatch(value) else reason
