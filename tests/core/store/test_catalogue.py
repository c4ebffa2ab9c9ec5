"""The catalogue of worklist columns is the one truth: the model, the mapping targets and the DICOM side agree."""

from __future__ import annotations

from pydicom.datadict import dictionary_VR, keyword_dict
from sqlalchemy import Float, String

from pylantir.dicom.attributes import STEP_LEVEL, TOP_LEVEL
from pylantir.dicom.client import SPS_KEYS, TOP_LEVEL_KEYS
from pylantir.store.catalogue import (
    ATTRIBUTES,
    BY_COLUMN,
    CODE_SEQUENCES,
    EXTRA_COLUMNS,
    STEP_EXTRAS,
    Level,
    Matching,
    target_names,
)
from pylantir.store.models import VR_LENGTHS, WorklistItem
from pylantir.sync.fields import REQUIRED, target

#: WorklistItem columns that hold no DICOM attribute: identity, lineage, the matcher's start column, the MPPS flag.
BOOKKEEPING = {"id", "identity", "source_name", "source_key", "source_record_key", "content_hash", "created_at",
               "updated_at", "scheduled_start", "status_from_mpps", "created_run_id", "updated_run_id",
               *EXTRA_COLUMNS.values()}
TEXT_VRS = {"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"}


def test_the_models_columns_are_the_catalogues_with_sql_types_from_their_vr() -> None:
    table = WorklistItem.__table__
    assert set(table.c.keys()) - BOOKKEEPING == set(BY_COLUMN)
    for column, entry in BY_COLUMN.items():
        sql_type = table.c[column].type
        if entry.vr == "DS":
            assert isinstance(sql_type, Float), column
        else:
            # each value as long as its VR allows, separated by backslashes
            length = VR_LENGTHS[entry.vr] * entry.values + entry.values - 1
            assert isinstance(sql_type, String) and sql_type.length == length, column


def test_every_entry_is_a_dictionary_attribute_with_a_rule_that_fits_its_vr() -> None:
    for entry in ATTRIBUTES:
        assert entry.keyword in keyword_dict and entry.vr == dictionary_VR(entry.keyword), entry.column
        if entry.matching is Matching.WILDCARD:
            assert entry.vr in TEXT_VRS, entry.column
        if entry.matching is Matching.RANGE:
            assert entry.vr == "DA", entry.column
        if entry.matching is Matching.UID_LIST:
            assert entry.vr == "UI", entry.column
        if entry.return_type == "1":  # Type 1: never empty in a response
            assert entry.required or entry.fallback or entry.when_unmapped, entry.column
        assert (entry.level is Level.CODE) == (entry.sequence is not None), entry.column


def test_step_level_extras_are_dictionary_attributes_without_a_column() -> None:
    assert STEP_EXTRAS <= set(keyword_dict)
    assert not STEP_EXTRAS & {entry.keyword for entry in ATTRIBUTES}


def test_code_sequences_are_built_from_code_level_columns() -> None:
    for sequence in CODE_SEQUENCES:
        for keyword, column in (("CodeValue", sequence.value), ("CodingSchemeDesignator", sequence.scheme),
                                ("CodeMeaning", sequence.meaning)):
            entry = BY_COLUMN[column]
            assert entry.level is Level.CODE and entry.sequence == sequence.keyword, column
            assert dictionary_VR(keyword) in {"SH", "LO", "UC"}


def test_the_dicom_side_and_the_mapping_targets_derive_from_it() -> None:
    assert {**TOP_LEVEL.attributes, **STEP_LEVEL.attributes} == {
        entry.keyword: entry for entry in ATTRIBUTES if entry.level is not Level.CODE}
    assert set(TOP_LEVEL_KEYS) <= set(TOP_LEVEL.attributes) and set(SPS_KEYS) <= set(STEP_LEVEL.attributes)
    assert REQUIRED == ("patient_name", "patient_id", "scheduled_start_date", "modality")
    for name in target_names():
        found = target(name.name)
        assert found is not None and found.column == name.column and found.vr == name.attribute.vr, name.name
