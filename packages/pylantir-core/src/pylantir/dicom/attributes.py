"""Which DICOM attribute of the Modality Worklist lives in which ``WorklistItem`` column.

Two levels: the identifier's top level (patient, visit, requested procedure, imaging service request)
and the single item of the Scheduled Procedure Step Sequence (0040,0100).
"""

from __future__ import annotations

from typing import Any

from pylantir.store.catalogue import SPS, TOP, columns_at
from pylantir.store.models import WorklistItem

SPS_SEQUENCE = "ScheduledProcedureStepSequence"
START_DATE = "ScheduledProcedureStepStartDate"
START_TIME = "ScheduledProcedureStepStartTime"

# keyword -> WorklistItem attribute, at the top level of the identifier and inside the SPS item
TOP_LEVEL_COLUMNS: dict[str, str] = columns_at(TOP)
SPS_COLUMNS: dict[str, str] = columns_at(SPS)

# Numeric columns are returned, never matched (DS matching is not defined by Annex K).
NOT_MATCHED = frozenset({"PatientWeight", "PatientSize"})

# Code sequences built from columns: keyword -> (code value, coding scheme designator, code meaning)
TOP_LEVEL_CODES: dict[str, tuple[str, str, str]] = {
    "RequestedProcedureCodeSequence": (
        "requested_procedure_code_value",
        "requested_procedure_code_scheme",
        "requested_procedure_code_meaning",
    ),
}
SPS_CODES: dict[str, tuple[str, str, str]] = {
    "ScheduledProtocolCodeSequence": ("protocol_name", "hisris_coding_designator", "protocol_name"),
}


def column_value(item: WorklistItem, columns: dict[str, str], keyword: str) -> Any:
    """The stored value of ``keyword`` at one level: a column, else ``extra_attributes``, else None."""
    if keyword in columns:
        return getattr(item, columns[keyword])
    return (item.extra_attributes or {}).get(keyword)
