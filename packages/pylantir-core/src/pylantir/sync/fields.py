"""The worklist fields a ``field_mapping`` may target, with their DICOM value representation (VR).

Every target comes from the store's catalogue (:mod:`pylantir.store.catalogue`): a column of
:class:`pylantir.store.models.WorklistItem` by its name or an alias (``performed_procedure_step_status``,
``study_description``: the previous Pylantir's names), a virtual target (``patient_weight_lb``, converted
to ``patient_weight_kg``), or ``extra.<DicomKeyword>`` (stored in ``extra_attributes``). The VR decides
the automatic normalisation (dates, times, names...) and the quality checks.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from pylantir.datadict import is_keyword, keyword_vm, keyword_vr
from pylantir.store.catalogue import (
    ATTRIBUTES,
    BY_COLUMN,
    EXTRA_COLUMNS,
    VIRTUAL_TARGETS,
    Level,
    attribute,
    extra_level,
    target_names,
)
from pylantir.sync.values import each_value

EXTRA_PREFIX = "extra."

#: Worklist column -> DICOM VR of the attribute it feeds (from the store's catalogue).
COLUMN_VRS: dict[str, str] = {entry.column: entry.vr for entry in ATTRIBUTES}

#: The automatic ``format`` of each VR (see :data:`pylantir.sync.values.ALL_FORMATS`); other VRs are text.
VR_FORMATS: dict[str, str] = {
    "DA": "date", "TM": "time", "DT": "datetime", "PN": "name", "CS": "upper",
    "DS": "number", "FL": "number", "FD": "number",
    "IS": "integer", "US": "integer", "SS": "integer", "UL": "integer", "SL": "integer", "SV": "integer",
    "UV": "integer", "AT": "tag",
}
#: VRs an ``extra.<Keyword>`` may not have: sequences and bulk binary data (no field of a source holds them).
UNMAPPABLE_VRS = frozenset({"SQ", "OB", "OD", "OF", "OL", "OV", "OW", "UN"})

#: Fields every worklist entry must have.
REQUIRED: tuple[str, ...] = tuple(entry.column for entry in ATTRIBUTES if entry.required)

#: Column-specific formats that differ from the VR's.
SPECIAL_FORMATS = {attribute("patient_sex").column: "sex"}

#: Every plain target name (columns, aliases, virtual targets) -> the column it writes.
_PLAIN_TARGETS: dict[str, str] = {entry.name: entry.column for entry in target_names()}
_CONVERSIONS: dict[str, str] = {virtual.name: virtual.conversion for virtual in VIRTUAL_TARGETS}


@dataclass(frozen=True)
class Target:
    """Where a mapped value goes and how it is normalised automatically.

    ``many``: the field holds several values (each normalised; a column keeps them joined by ``\\``, an
    extra keeps a list).
    """

    name: str
    column: str
    vr: str
    auto_format: str
    extra_keyword: str | None = None
    many: bool = False

    def per_value(self, normalise: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """``normalise`` as this target applies it: to each value when it holds several, else as it is."""
        if not self.many:
            return normalise
        return each_value(normalise, joined=self.extra_keyword is None)


@cache
def target(name: str) -> Target | None:
    """The :class:`Target` called ``name``, or ``None`` when it is not a worklist field."""
    if name in _PLAIN_TARGETS:
        column = _PLAIN_TARGETS[name]
        vr = COLUMN_VRS[column]
        auto = _CONVERSIONS.get(name) or SPECIAL_FORMATS.get(column) or VR_FORMATS.get(vr, "text")
        return Target(name, column, vr, auto, many=BY_COLUMN[column].values > 1)
    if name.startswith(EXTRA_PREFIX):
        keyword = name[len(EXTRA_PREFIX) :]
        if not is_keyword(keyword):
            return None
        vr = keyword_vr(keyword)
        if vr in UNMAPPABLE_VRS or " or " in vr:  # "US or SS": the VR depends on another attribute
            return None
        column = EXTRA_COLUMNS[extra_level(keyword)]
        return Target(name, column, vr, VR_FORMATS.get(vr, "text"), keyword, many=keyword_vm(keyword) != "1")
    return None


def _snake_case(keyword: str) -> str:
    """``ScheduledStationAETitle`` -> ``scheduled_station_ae_title``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", keyword).lower()


@cache
def _spellings() -> dict[str, str]:
    """Names a user may write for a plain target -> that target: its own, and its DICOM keyword's forms."""
    spellings = {name: name for name in _PLAIN_TARGETS}
    for entry in ATTRIBUTES:
        if entry.target and entry.level is not Level.CODE:  # a code component's keyword names no one column
            for spelling in (_snake_case(entry.keyword), entry.keyword.lower()):
                spellings.setdefault(spelling, entry.column)
    return spellings


def suggest_target(name: str) -> str | None:
    """The plain target a misspelt ``name`` most likely means (``scheduled_station_name`` -> ``station_name``)."""
    spellings = _spellings()
    guess = difflib.get_close_matches(name.lower(), spellings, n=1)
    return spellings[guess[0]] if guess else None
