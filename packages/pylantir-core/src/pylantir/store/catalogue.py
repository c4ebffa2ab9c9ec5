"""The worklist in DICOM terms: one table of the columns every other part reads.

Each :class:`Attribute` is one ``WorklistItem`` column and the Modality Worklist attribute it stores
(PS3.4 Table K.6-1): its keyword (tag and VR come from pydicom's data dictionary,
:mod:`pylantir.datadict`), its level in a C-FIND
identifier (the top level, the Scheduled Procedure Step Sequence item, or a component of a code sequence
item), how a key on it is matched, what a response returns when nothing is stored, and how a
``field_mapping`` targets it. Derived from it:

- the model's columns (:mod:`pylantir.store.models` takes each column's SQL type from here; a test checks
  that the two agree), the mapping targets and their VRs (:mod:`pylantir.sync.fields`), the required fields
  and VR checks (:mod:`pylantir.sync.quality`);
- the C-FIND matcher's keyword -> column maps and matching rules (:mod:`pylantir.dicom.matching`), the
  response builder's levels, code sequences and Type 1 fallbacks (:mod:`pylantir.dicom.responses`), the
  client's default return keys (:mod:`pylantir.dicom.client`);
- the CLI's tables (``pylantir worklist fields``, the headers of ``worklist list``).

A new column that modalities should see is declared here once (plus its model line and a migration).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any

from pylantir.datadict import keyword_name, keyword_tag, keyword_vr

#: ``stored(column)``: the stored value of a column of one worklist item (``"id"`` included).
Stored = Callable[[str], Any]


class Level(StrEnum):
    """Where an attribute sits in a Modality Worklist identifier."""

    TOP = "top"  # patient, visit, imaging service request, requested procedure
    STEP = "step"  # the single item of the Scheduled Procedure Step Sequence (0040,0100)
    CODE = "code"  # a component of a code sequence item (see :data:`CODE_SEQUENCES`)


class Matching(StrEnum):
    """How a C-FIND key carrying a value is matched (PS3.4 C.2.2.2)."""

    WILDCARD = "single value, wild card"
    RANGE = "single value, range"
    UID_LIST = "single value, UID list"
    #: Scheduled Procedure Step Start Date and Time: one date-time interval on ``scheduled_start``.
    START = "single value, date-time range"
    RETURNED = "not matched"


@dataclass(frozen=True)
class Fallback:
    """What a Type 1 (or 1C) key returns when its column is empty (``said``: how the docs put it)."""

    said: str
    value: Callable[[Stored], str]


def _text(text: str) -> Fallback:
    return Fallback(text, lambda stored: text)


def _column(column: str, said: str) -> Fallback:
    return Fallback(said, lambda stored: stored(column) or "")


_ITEM_ID = Fallback("the item's id", lambda stored: str(stored("id")))
_START_TIME = Fallback(
    "the start's time, else 000000", lambda stored: (stored("scheduled_start") or "")[8:14] or "000000"
)


@dataclass(frozen=True)
class Attribute:
    """One ``WorklistItem`` column and the DICOM attribute (by ``keyword``) whose value it stores.

    ``return_type`` is the return key type of Table K.6-1: ``1`` always carries a value (the column is
    required, or ``fallback`` gives one), ``2``/``3`` come back zero-length when nothing is stored, ``1C``
    as the fallback says. ``aliases`` are other ``field_mapping`` target names for the column (names of
    the previous Pylantir). ``label`` is the column's header in the CLI's tables.
    """

    column: str
    keyword: str
    level: Level
    matching: Matching
    return_type: str
    label: str
    fallback: Fallback | None = None
    required: bool = False
    target: bool = True
    aliases: tuple[str, ...] = ()
    #: For :data:`Level.CODE`: the code sequence whose item this column is a component of.
    sequence: str | None = None
    #: Few distinct values (modality, station, status): a key on it must not drive the query's index.
    few_values: bool = False
    #: What a sync stores when the mapping gives no value (for the docs; the sync's rule, not a fallback).
    when_unmapped: str | None = None
    #: A return key modalities usually ask for (IHE RAD-5): the DICOM client's default return keys.
    usual: bool = False
    #: How many values the column holds at most (stored as DICOM writes them: separated by ``\``); a key
    #: matches when it matches any of them (PS3.4 C.2.2.2: multi-valued attributes).
    values: int = 1

    @cached_property
    def tag(self) -> int:
        """The attribute's tag, from pydicom's data dictionary."""
        found = keyword_tag(self.keyword)
        assert found is not None, f"{self.keyword} is not a DICOM keyword"
        return found

    @property
    def vr(self) -> str:
        """The attribute's value representation, from pydicom's data dictionary."""
        return keyword_vr(self.keyword)

    @property
    def name(self) -> str:
        """The attribute's name in the standard (``Patient's Name``)."""
        return keyword_name(self.keyword)

    @property
    def tag_text(self) -> str:
        """The tag as the standard writes it: ``(0010,0010)``."""
        return f"({self.tag >> 16:04X},{self.tag & 0xFFFF:04X})"

    @property
    def where(self) -> str:
        """Where the value goes in a C-FIND response, in words."""
        if self.level is Level.STEP:
            return "SPS item"
        if self.level is Level.CODE:
            return keyword_name(self.sequence or "")
        return "top"

    @property
    def returned(self) -> str:
        """What a response carries: the return key type, and what stands in when nothing is stored."""
        if self.required:
            return f"{self.return_type}, required"
        if self.when_unmapped is not None:
            return f"{self.return_type}, unmapped: {self.when_unmapped}"
        if self.fallback is not None:
            return f"{self.return_type}, empty: {self.fallback.said}"
        return self.return_type


@dataclass(frozen=True)
class CodeSequence:
    """A code sequence built from columns: one item of (code value, coding scheme designator, code meaning).

    Its Type 1C return key is left out of a response when its ``value`` column is empty.
    """

    keyword: str
    level: Level
    value: str
    scheme: str
    meaning: str
    #: The designator returned when the ``scheme`` column is empty (a private scheme, PS3.16 8.2).
    default_scheme: str = "99PYLANTIR"
    return_type: str = "1C"

    def item(self, stored: Stored) -> dict[str, Any] | None:
        """The sequence's item as ``{keyword: value}``, or ``None`` when no code value is stored.

        The designator defaults to :attr:`default_scheme`, the meaning to the code value.
        """
        value = stored(self.value)
        if not value:
            return None
        return {"CodeValue": value, "CodingSchemeDesignator": stored(self.scheme) or self.default_scheme,
                "CodeMeaning": stored(self.meaning) or value}


@dataclass(frozen=True)
class VirtualTarget:
    """A ``field_mapping`` target that is no column: its value is converted, then stored in ``column``."""

    name: str
    column: str
    #: The name of the conversion (a normaliser of :mod:`pylantir.sync.values`).
    conversion: str
    description: str


T, S, C = Level.TOP, Level.STEP, Level.CODE
W, R, U, RET = Matching.WILDCARD, Matching.RANGE, Matching.UID_LIST, Matching.RETURNED

ATTRIBUTES: tuple[Attribute, ...] = (
    # Patient
    Attribute("patient_name", "PatientName", T, W, "1", "patient name", _text("UNKNOWN"), required=True, usual=True),
    Attribute("patient_id", "PatientID", T, W, "1", "patient ID", required=True, usual=True),
    Attribute("issuer_of_patient_id", "IssuerOfPatientID", T, W, "3", "issuer"),
    Attribute("patient_birth_date", "PatientBirthDate", T, R, "2", "birth date", usual=True),
    Attribute("patient_sex", "PatientSex", T, W, "2", "sex", usual=True),
    Attribute("patient_weight_kg", "PatientWeight", T, RET, "2", "weight (kg)"),
    Attribute("patient_size_m", "PatientSize", T, RET, "3", "size (m)"),
    Attribute("medical_alerts", "MedicalAlerts", T, W, "2", "medical alerts"),
    Attribute("allergies", "Allergies", T, W, "2", "allergies"),
    # Imaging service request and requested procedure
    Attribute("accession_number", "AccessionNumber", T, W, "2", "accession", usual=True),
    Attribute("study_instance_uid", "StudyInstanceUID", T, U, "1", "study UID", when_unmapped="generated", usual=True),
    Attribute("requested_procedure_id", "RequestedProcedureID", T, W, "1", "procedure ID", _ITEM_ID, usual=True),
    Attribute(
        "requested_procedure_description", "RequestedProcedureDescription", T, W, "1C", "procedure",
        _column("requested_procedure_code_meaning", "code meaning"),
        aliases=("study_description",), usual=True,
    ),
    Attribute("requested_procedure_priority", "RequestedProcedurePriority", T, W, "2", "priority"),
    Attribute("referring_physician_name", "ReferringPhysicianName", T, W, "2", "referring physician", usual=True),
    Attribute("requesting_physician", "RequestingPhysician", T, W, "2", "requesting physician"),
    # Scheduled Procedure Step
    Attribute("scheduled_station_aetitle", "ScheduledStationAETitle", S, W, "1", "station AE", _text("UNASSIGNED"),
              few_values=True, usual=True, values=8),
    Attribute("scheduled_start_date", "ScheduledProcedureStepStartDate", S, Matching.START, "1", "date",
              required=True, usual=True),
    Attribute("scheduled_start_time", "ScheduledProcedureStepStartTime", S, Matching.START, "1", "time",
              _START_TIME, usual=True),
    Attribute("modality", "Modality", S, W, "1", "modality", required=True, few_values=True, usual=True),
    Attribute("performing_physician", "ScheduledPerformingPhysicianName", S, W, "2", "performing physician",
              usual=True),
    Attribute(
        "procedure_description", "ScheduledProcedureStepDescription", S, W, "1C", "step",
        _column("protocol_name", "protocol name"), usual=True,
    ),
    Attribute("station_name", "ScheduledStationName", S, W, "2", "station", usual=True),
    Attribute("scheduled_procedure_step_location", "ScheduledProcedureStepLocation", S, W, "2", "location"),
    Attribute("scheduled_procedure_step_id", "ScheduledProcedureStepID", S, W, "1", "step ID", _ITEM_ID, usual=True),
    Attribute(
        "scheduled_procedure_step_status", "ScheduledProcedureStepStatus", S, W, "3", "status",
        aliases=("performed_procedure_step_status",), few_values=True, when_unmapped="SCHEDULED", usual=True,
    ),
    # Code sequence components (the sequences are CODE_SEQUENCES)
    Attribute("requested_procedure_code_value", "CodeValue", C, RET, "1C", "procedure code",
              sequence="RequestedProcedureCodeSequence"),
    Attribute("requested_procedure_code_scheme", "CodingSchemeDesignator", C, RET, "1C", "procedure code scheme",
              sequence="RequestedProcedureCodeSequence"),
    Attribute("requested_procedure_code_meaning", "CodeMeaning", C, RET, "1C", "procedure code meaning",
              sequence="RequestedProcedureCodeSequence"),
    Attribute("protocol_name", "CodeMeaning", C, RET, "1C", "protocol", sequence="ScheduledProtocolCodeSequence"),
    Attribute("hisris_coding_designator", "CodingSchemeDesignator", C, RET, "1C", "protocol code scheme",
              sequence="ScheduledProtocolCodeSequence"),
)

CODE_SEQUENCES: tuple[CodeSequence, ...] = (
    CodeSequence(
        "RequestedProcedureCodeSequence", T, "requested_procedure_code_value", "requested_procedure_code_scheme",
        "requested_procedure_code_meaning",
    ),
    # The protocol name is the code's value and its meaning (sources seldom have a separate code).
    CodeSequence("ScheduledProtocolCodeSequence", S, "protocol_name", "hisris_coding_designator", "protocol_name"),
)

VIRTUAL_TARGETS: tuple[VirtualTarget, ...] = (
    VirtualTarget("patient_weight_lb", "patient_weight_kg", "pounds_to_kg", "pounds, stored as patient_weight_kg"),
)

#: Column -> its :class:`Attribute`.
BY_COLUMN: dict[str, Attribute] = {attribute.column: attribute for attribute in ATTRIBUTES}

#: The JSON columns of the attributes a ``field_mapping`` writes as ``extra.<Keyword>``, by level.
EXTRA_COLUMNS: dict[Level, str] = {Level.TOP: "extra_attributes", Level.STEP: "extra_step_attributes"}

#: Attributes of the Scheduled Procedure Step item (PS3.4 Table K.6-1) that have no column: as extras, they
#: are stored and returned at step level. Any other extra is at the top level.
STEP_EXTRAS = frozenset({
    "ScheduledProcedureStepEndDate", "ScheduledProcedureStepEndTime", "PreMedication", "RequestedContrastAgent",
    "CommentsOnTheScheduledProcedureStep", "ScheduledPerformingPhysicianIdentificationSequence",
    "ScheduledSpecimenSequence",
})

#: The Scheduled Procedure Step Status column (matched against ``server.worklist_statuses``; set by MPPS).
STATUS = BY_COLUMN["scheduled_procedure_step_status"].column


def extra_level(keyword: str) -> Level:
    """The level at which an attribute kept as an extra is stored and returned."""
    return Level.STEP if keyword in STEP_EXTRAS else Level.TOP


def attribute(column: str) -> Attribute:
    """The :class:`Attribute` of ``column`` (a ``KeyError`` names a column the catalogue does not have)."""
    return BY_COLUMN[column]


def at_level(level: Level) -> dict[str, Attribute]:
    """DICOM keyword -> :class:`Attribute`, for the attributes stored at ``level`` (top or step)."""
    return {entry.keyword: entry for entry in ATTRIBUTES if entry.level is level}


def code_sequences(level: Level) -> dict[str, CodeSequence]:
    """Sequence keyword -> :class:`CodeSequence`, for the code sequences at ``level``."""
    return {sequence.keyword: sequence for sequence in CODE_SEQUENCES if sequence.level is level}


@dataclass(frozen=True)
class TargetName:
    """A ``field_mapping`` target name and the column it writes (``note``: for aliases and virtual targets)."""

    name: str
    column: str
    attribute: Attribute
    note: str = ""


def target_names() -> Iterator[TargetName]:
    """Every plain ``field_mapping`` target, in catalogue order: columns, then their aliases and virtual ones."""
    code_values = {sequence.value for sequence in CODE_SEQUENCES}
    for entry in ATTRIBUTES:
        if entry.target:
            notes = ["also the Code Value"] if entry.column in code_values and entry.keyword != "CodeValue" else []
            notes += [f"up to {entry.values} values"] if entry.values > 1 else []
            yield TargetName(entry.column, entry.column, entry, "; ".join(notes))
    for entry in ATTRIBUTES:
        for alias in entry.aliases:
            yield TargetName(alias, entry.column, entry, f"alias of {entry.column}")
    for virtual in VIRTUAL_TARGETS:
        yield TargetName(virtual.name, virtual.column, BY_COLUMN[virtual.column], virtual.description)
