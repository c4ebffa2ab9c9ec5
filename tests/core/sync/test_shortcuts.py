"""Each hot-path shortcut of the sync gives what the general path gives, on the same input.

(The raw-driver SQLite insert: tests/core/store/test_bulk.py; the hand-rolled uuid5:
tests/core/sync/test_identity.py; figures for each: docs/benchmarks.md, bench/sync_shortcuts.py.)
"""

from __future__ import annotations

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


def _apply(mapping: FieldMapping, record: dict[str, Any]) -> tuple[str, Any]:
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
    checked = mapping.checked(gate.passes)
    outcomes = []
    for _ in range(3):  # the compiled pass remembers the values it accepted: the later rounds read them back
        for record in records:
            kind, row = _apply(mapping, record)
            valid_values = kind == "row" and gate.check(row) == gate.missing(row)
            outcomes.append(checked(record))
            assert outcomes[-1] == (row if valid_values else None), record
    assert outcomes.count(None) == 3 * 8  # each record with a value that fails; the other 5 are mapped
