"""The catalogue (:mod:`pylantir.store.catalogue`) as the DICOM server reads it: attributes by level and keyword.

Two levels: the identifier's top level (patient, visit, requested procedure, imaging service request)
and the single item of the Scheduled Procedure Step Sequence (0040,0100); each has its columns, its code
sequences and its extras (a JSON column of other attributes by keyword).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row

from pylantir.store.catalogue import EXTRA_COLUMNS, Attribute, CodeSequence, Level, at_level, code_sequences
from pylantir.store.models import WorklistItem

#: A stored worklist item as an answer reads it: the ORM object, or a row of its columns by name
#: (:func:`pylantir.store.queries.answer_rows`).
StoredItem = WorklistItem | Row[Any]

SPS_SEQUENCE = "ScheduledProcedureStepSequence"
START_DATE = "ScheduledProcedureStepStartDate"
START_TIME = "ScheduledProcedureStepStartTime"


@dataclass(frozen=True)
class IdentifierLevel:
    """The attributes (by keyword), code sequences (by sequence keyword) and extras column of one level."""

    attributes: dict[str, Attribute]
    codes: dict[str, CodeSequence]
    extras: str

    def stored_extras(self, item: StoredItem) -> dict[str, Any]:
        """The item's extras at this level, by keyword."""
        return getattr(item, self.extras) or {}


TOP_LEVEL = IdentifierLevel(at_level(Level.TOP), code_sequences(Level.TOP), EXTRA_COLUMNS[Level.TOP])
STEP_LEVEL = IdentifierLevel(at_level(Level.STEP), code_sequences(Level.STEP), EXTRA_COLUMNS[Level.STEP])


def stored_value(item: StoredItem, level: IdentifierLevel, keyword: str) -> Any:
    """The stored value of ``keyword`` at ``level``: its column, else the level's extras, else None."""
    if keyword in level.attributes:
        return getattr(item, level.attributes[keyword].column)
    return level.stored_extras(item).get(keyword)
