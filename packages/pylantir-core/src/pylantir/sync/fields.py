"""The worklist fields a ``field_mapping`` may target, with their DICOM value representation (VR).

A target is a column of :class:`pylantir.store.models.WorklistItem`, the virtual ``patient_weight_lb``
(converted to ``patient_weight_kg``), or ``extra.<DicomKeyword>`` (stored in ``extra_attributes``).
The VR decides the automatic normalisation (dates, times, names...) and the quality checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from pydicom.datadict import dictionary_VR, keyword_dict

EXTRA_PREFIX = "extra."

#: Worklist column -> DICOM VR of the attribute it feeds.
COLUMN_VRS: dict[str, str] = {
    "patient_id": "LO",
    "issuer_of_patient_id": "LO",
    "patient_name": "PN",
    "patient_birth_date": "DA",
    "patient_sex": "CS",
    "patient_weight_kg": "DS",
    "patient_size_m": "DS",
    "medical_alerts": "LO",
    "allergies": "LO",
    "accession_number": "SH",
    "study_instance_uid": "UI",
    "requested_procedure_id": "SH",
    "study_description": "LO",
    "requested_procedure_code_value": "SH",
    "requested_procedure_code_scheme": "SH",
    "requested_procedure_code_meaning": "LO",
    "requested_procedure_priority": "SH",
    "referring_physician_name": "PN",
    "requesting_physician": "PN",
    "scheduled_procedure_step_id": "SH",
    "modality": "CS",
    "scheduled_station_aetitle": "AE",
    "station_name": "SH",
    "scheduled_procedure_step_location": "SH",
    "scheduled_start_date": "DA",
    "scheduled_start_time": "TM",
    "performing_physician": "PN",
    "procedure_description": "LO",
    "protocol_name": "LO",
    "hisris_coding_designator": "SH",
    "performed_procedure_step_status": "CS",
}

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
