"""Each hot-path shortcut of the sync gives what the general path gives, on the same input.

(The raw-driver SQLite insert: tests/core/store/test_bulk.py; the hand-rolled uuid5:
tests/core/sync/test_identity.py; figures for each: docs/benchmarks.md, bench/sync_shortcuts.py.)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

from pylantir.sync.mapping import FieldMapping, RowError
from pylantir.sync.quality import QualityGate

FIELDS = {"dob": "patient_birth_date", "sex": "patient_sex", "day": "scheduled_start_date",
          "time": "scheduled_start_time", "modality": "modality", "name": "patient_name", "kg": "patient_weight_kg"}
SAMPLES: list[dict[str, Any]] = [
    {"dob": dob, "sex": sex, "day": day, "time": time, "modality": modality, "name": name, "kg": kg}
    for dob, sex, day, time, modality, name, kg in [
        ("31/01/1990", "female", "2026-03-04", "09:30", "mr", "Jane Doe", "70"),
        ("31/02/1990", "F", "20260304", "0930", "MR", "Doe, Jane", 70.5),
        ("  ", None, "2026-03-04", "25:00", "M R", "", None),
        (19900131, "x", "04.03.2026", 930, "CT", "Jane", "heavy"),
        ("1990-01-31", "male", "2026-03-04T09:30", "9:30 PM", "US", "A B C D E F", "-1"),
    ]
]


def _apply(mapping: FieldMapping, record: Mapping[str, Any]) -> tuple[str, Any]:
    try:
        return "row", mapping.apply(record)
    except RowError as error:
        return "error", (error.problems, error.row)


def test_plain_rename_shortcut_maps_like_the_rich_form() -> None:
    plain = FieldMapping.parse(FIELDS)
    rich = FieldMapping.parse({target: {"from": field} for field, target in FIELDS.items()})
    for _ in range(3):  # the shortcut remembers normalised texts: the second round reads them back
        for record in SAMPLES:
            assert _apply(plain, record) == _apply(rich, record)


def test_quality_gate_cache_judges_like_a_fresh_gate() -> None:
    mapping = FieldMapping.parse({target: {"from": field} for field, target in FIELDS.items()})
    rows = [outcome for _, outcome in (_apply(mapping, record) for record in SAMPLES)]
    rows = [row if isinstance(row, dict) else row[1] for row in rows] * 3
    warm = QualityGate(date(2026, 3, 4))
    for row in rows:
        assert warm.check(dict(row)) == QualityGate(date(2026, 3, 4)).check(dict(row))


def _expected(mapping: FieldMapping, gate: QualityGate, record: Mapping[str, Any]) -> dict[str, Any] | None:
    """What the compiled pass must give for ``record``: apply()'s row when the gate finds no value at fault."""
    kind, row = _apply(mapping, record)
    return row if kind == "row" and gate.check(row) == gate.missing(row) else None


def _chunks(records: list[Any]) -> list[list[Any]]:
    """The records one by one, all together, and in uneven runs (the pass remembers what it accepted)."""
    uneven, start = [], 0
    for size in (2, 3, 5, 7, 11):
        uneven.append(records[start : start + size])
        start += size
    return [[record] for record in records] + [records] + [chunk for chunk in uneven if chunk] + [records[start:]]


def test_checked_mapping_maps_what_passes_like_apply_and_refuses_the_rest() -> None:
    """RowPreparer's compiled pass: the row apply() gives when the gate finds no problem in any value, else None."""
    fields: dict[str, Any] = {**FIELDS, "uid": "study_instance_uid", "extra.PatientState": {"from": "state"},
                              "requested_procedure_id": {"template": "RP{day}"}}
    mapping = FieldMapping.parse(fields)
    valid = {"dob": "1990-01-31", "sex": "F", "day": "2026-03-04", "time": "09:30", "modality": "MR",
             "name": "Jane Doe", "kg": "70", "uid": " 1.2.3 ", "state": "calm"}
    records = [*SAMPLES, valid, {**valid, "uid": "1.2.x"}, {**valid, "modality": ["MR"]}, {**valid, "state": "x" * 65},
               {**valid, "dob": "1800-01-01"}, {**valid, "kg": "", "name": None}, {"modality": "CT"}]
    gate = QualityGate(date(2026, 3, 4))
    checked = mapping.checked(gate.passes, gate.text_match)
    outcomes = []
    for _ in range(3):  # the compiled pass remembers the values it accepted: the later rounds read them back
        for record in records:
            outcomes.extend(checked([record]))
            assert outcomes[-1] == _expected(mapping, gate, record), record
    assert outcomes.count(None) == 3 * 8  # each record with a value that fails; the other 5 are mapped
    for chunk in _chunks(records * 2):
        assert checked(chunk) == [_expected(mapping, gate, record) for record in chunk]


class _Record(Mapping[str, Any]):
    """A record that is a Mapping but no dict (the pass reads it by get())."""

    def __init__(self, data: dict[str, Any]):
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


class _Defaulting(dict[str, Any]):
    """A dict whose get() gives a default for a missing field (the pass reads it by its own get())."""

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key, "Z9")


def test_checked_mapping_matches_columns_of_new_texts_like_one_value_at_a_time() -> None:
    """The columns whose new texts are stripped and matched together (IDs, UIDs, descriptions) give what each
    record alone gives: texts with spaces, empty and blank ones, ones that fail the VR, numbers, lists, missing
    fields, a Mapping that is no dict, a defaultdict (whose missing fields read as missing, not as its default)
    and a dict whose own get() fills missing fields."""
    mapping = FieldMapping.parse({"mrn": "patient_id", "acc": "accession_number", "uid": "study_instance_uid",
                                  "exam": "requested_procedure_description", "day": "scheduled_start_date",
                                  "modality": "modality"})
    base = {"mrn": "P1", "acc": "A1", "uid": "1.2.3", "exam": "MRI head", "day": "20260304", "modality": "MR"}
    variants: list[dict[str, Any]] = [
        {}, {"mrn": " P2 "}, {"mrn": ""}, {"mrn": "   "}, {"mrn": None}, {"mrn": 42}, {"mrn": ["P3"]},
        {"mrn": "P\4"}, {"mrn": "x" * 65}, {"uid": "1.2.x"}, {"uid": " 1.2.4"}, {"uid": "01.2"}, {"acc": "A"},
        {"exam": "y" * 65}, {"exam": "	CT  chest "}, {"acc": 7.5}, {"uid": ""},
    ]
    records: list[Any] = [{**base, **variant} for variant in variants]
    records += [{key: value for key, value in base.items() if key != "mrn"}, _Record({**base, "mrn": " P5"}),
                defaultdict(lambda: "Q", {key: value for key, value in base.items() if key != "acc"}),
                _Defaulting({key: value for key, value in base.items() if key != "acc"})]
    records += [{**base, "mrn": f"P{n}", "uid": f"1.2.{n}"} for n in range(10, 40)]
    gate = QualityGate(date(2026, 3, 4))
    for chunk in _chunks(records * 2):
        checked = mapping.checked(gate.passes, gate.text_match)  # a new pass: nothing remembered yet
        assert checked(chunk) == [_expected(mapping, gate, record) for record in chunk], chunk
    remembering = mapping.checked(gate.passes, gate.text_match)
    for chunk in _chunks(records * 2):
        assert remembering(chunk) == [_expected(mapping, gate, record) for record in chunk], chunk
