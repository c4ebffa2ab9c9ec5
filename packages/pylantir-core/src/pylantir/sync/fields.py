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
from dataclasses import dataclass
from functools import cache

from pydicom.datadict import dictionary_VR, keyword_dict

from pylantir.store.catalogue import ATTRIBUTES, VIRTUAL_TARGETS, Level, attribute, target_names

EXTRA_PREFIX = "extra."

#: Worklist column -> DICOM VR of the attribute it feeds (from the store's catalogue).
COLUMN_VRS: dict[str, str] = {entry.column: entry.vr for entry in ATTRIBUTES}

#: The automatic ``format`` of each VR (see :data:`pylantir.sync.values.FORMATS`).
VR_FORMATS: dict[str, str] = {"DA": "date", "TM": "time", "DT": "datetime", "PN": "name", "CS": "upper", "DS": "number"}

#: Fields every worklist entry must have.
REQUIRED: tuple[str, ...] = tuple(entry.column for entry in ATTRIBUTES if entry.required)

#: Column-specific formats that differ from the VR's.
SPECIAL_FORMATS = {attribute("patient_sex").column: "sex"}

#: Every plain target name (columns, aliases, virtual targets) -> the column it writes.
_PLAIN_TARGETS: dict[str, str] = {entry.name: entry.column for entry in target_names()}
_CONVERSIONS: dict[str, str] = {virtual.name: virtual.conversion for virtual in VIRTUAL_TARGETS}


@dataclass(frozen=True)
class Target:
    """Where a mapped value goes and how it is normalised automatically."""

    name: str
    column: str
    vr: str
    auto_format: str
    extra_keyword: str | None = None


@cache
def target(name: str) -> Target | None:
    """The :class:`Target` called ``name``, or ``None`` when it is not a worklist field."""
    if name in _PLAIN_TARGETS:
        column = _PLAIN_TARGETS[name]
        vr = COLUMN_VRS[column]
        auto = _CONVERSIONS.get(name) or SPECIAL_FORMATS.get(column) or VR_FORMATS.get(vr, "text")
        return Target(name, column, vr, auto)
    if name.startswith(EXTRA_PREFIX):
        keyword = name[len(EXTRA_PREFIX) :]
        if keyword not in keyword_dict:
            return None
        vr = dictionary_VR(keyword)
        if vr == "SQ":
            return None
        return Target(name, "extra_attributes", vr, VR_FORMATS.get(vr, "text"), keyword)
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
