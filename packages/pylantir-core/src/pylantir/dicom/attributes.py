"""The catalogue (:mod:`pylantir.store.catalogue`) as the DICOM server reads it: attributes by level and keyword.

Two levels: the identifier's top level (patient, visit, requested procedure, imaging service request)
and the single item of the Scheduled Procedure Step Sequence (0040,0100); each has its code sequences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pylantir.store.catalogue import Attribute, CodeSequence, Level, at_level, code_sequences
from pylantir.store.models import WorklistItem

SPS_SEQUENCE = "ScheduledProcedureStepSequence"
START_DATE = "ScheduledProcedureStepStartDate"
START_TIME = "ScheduledProcedureStepStartTime"


@dataclass(frozen=True)
class IdentifierLevel:
    """The attributes (by keyword) and code sequences (by sequence keyword) stored at one level."""

    attributes: dict[str, Attribute]
    codes: dict[str, CodeSequence]


TOP_LEVEL = IdentifierLevel(at_level(Level.TOP), code_sequences(Level.TOP))
STEP_LEVEL = IdentifierLevel(at_level(Level.STEP), code_sequences(Level.STEP))


def stored_value(item: WorklistItem, level: IdentifierLevel, keyword: str) -> Any:
    """The stored value of ``keyword`` at ``level``: its column, else ``extra_attributes``, else None."""
    if keyword in level.attributes:
        return getattr(item, level.attributes[keyword].column)
    return (item.extra_attributes or {}).get(keyword)
