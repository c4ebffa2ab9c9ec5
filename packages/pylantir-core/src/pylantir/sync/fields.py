"""The worklist fields a ``field_mapping`` may target, with their DICOM value representation (VR).

A target is a column of :class:`pylantir.store.models.WorklistItem`, the virtual ``patient_weight_lb``
(converted to ``patient_weight_kg``), or ``extra.<DicomKeyword>`` (stored in ``extra_attributes``).
The VR decides the automatic normalisation (dates, times, names...) and the quality checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from pydicom.datadict import dictionary_VR, keyword_dict

from pylantir.store.catalogue import WORKLIST_COLUMNS

EXTRA_PREFIX = "extra."

#: Worklist column -> DICOM VR of the attribute it feeds (from the store's catalogue of columns).
COLUMN_VRS: dict[str, str] = {entry.column: dictionary_VR(entry.keyword) for entry in WORKLIST_COLUMNS}

#: The automatic ``format`` of each VR (see :data:`pylantir.sync.values.FORMATS`).
VR_FORMATS: dict[str, str] = {"DA": "date", "TM": "time", "DT": "datetime", "PN": "name", "CS": "upper", "DS": "number"}

#: Fields every worklist entry must have.
REQUIRED = ("patient_id", "patient_name", "scheduled_start_date", "modality")

#: Virtual targets: written to another column after their own conversion.
VIRTUAL = {"patient_weight_lb": ("patient_weight_kg", "pounds_to_kg")}

#: Column-specific formats that differ from the VR's.
SPECIAL_FORMATS = {"patient_sex": "sex"}


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
    if name in VIRTUAL:
        column, auto = VIRTUAL[name]
        return Target(name, column, COLUMN_VRS[column], auto)
    if name in COLUMN_VRS:
        vr = COLUMN_VRS[name]
        return Target(name, name, vr, SPECIAL_FORMATS.get(name) or VR_FORMATS.get(vr, "text"))
    if name.startswith(EXTRA_PREFIX):
        keyword = name[len(EXTRA_PREFIX) :]
        if keyword not in keyword_dict:
            return None
        vr = dictionary_VR(keyword)
        if vr == "SQ":
            return None
        return Target(name, "extra_attributes", vr, VR_FORMATS.get(vr, "text"), keyword)
    return None


def target_names() -> list[str]:
    """Every plain target name (for suggestions in error messages)."""
    return [*COLUMN_VRS, *VIRTUAL]
