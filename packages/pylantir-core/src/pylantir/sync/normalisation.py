"""The version of the code's normalisation, derived from what it does: part of the unchanged-record skip key.

A sync skips a raw record whose content hash matches a stored row, before mapping it. The hash covers the
record, the source's mapping and :func:`normalisation_version`: a digest of what the row pipeline makes of
a fixed probe set (every normaliser on sample values of every kind, and whole records through the mapping,
the quality checks, the identity, the generated UID and the start date-time). A release whose
normalisation gives any other output on the probe set gets another version, so its first sync rewrites
every row once, with no version to bump by hand. The probe set is data in this module: extend it when a
normaliser learns a new kind of input (a test checks that it covers every format and every worklist field).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from functools import cache
from hashlib import blake2b
from typing import Any

from pylantir.store.catalogue import ATTRIBUTES, VIRTUAL_TARGETS
from pylantir.sync.identity import canonical_bytes
from pylantir.sync.mapping import FieldMapping
from pylantir.sync.rows import PreparedRow, RowPreparer
from pylantir.sync.values import ALL_FORMATS, DATE_ORDERS, NAME_ORDERS

#: Sample inputs every normaliser is run on (outputs and refusals both count).
PROBE_VALUES: tuple[Any, ...] = (
    None, "", " ", "0", "1", "-1", "12.5", "1,5", "abc", "ÄÖü ß", "  padded  ", "x" * 80,
    "2026-03-04", "20260304", "04/03/2026", "14.03.2026", "03/14/2026", "04/04/2026", "04/03/26",
    "2026-02-30", "2026-03-04T09:30:15", "2026-03-04 09:30",
    "2026-03-04T09:30:15.123456+01:00", "09:30", "0930", "093015", "9:30 PM", "25:00", "09:30:15.5",
    "Doe, Jane", "Jane Doe", "Jane Q Doe", "DOE^JANE", "van der Berg, Jan", "M", "f", "Male", "female", "O", "U",
    "other", "X", 0, 1, 12.5, -3, 1_767_225_600, True, Decimal("72.50"), date(2026, 3, 4),
    datetime(2026, 3, 4, 9, 30, 15), datetime(2026, 3, 4, 9, 30, tzinfo=UTC), time(9, 30, 15),
)
#: The day every probe is judged on ("today" for plausible dates).
PROBE_TODAY = date(2026, 3, 4)
#: Probe records, each mapped field by field to the worklist fields of its own names (every field is in one).
PROBE_RECORDS: tuple[dict[str, Any], ...] = (
    {"patient_id": "P1", "patient_name": "Jane Doe", "patient_birth_date": "1980-02-03",
     "patient_sex": "female", "patient_weight_lb": "150", "patient_size_m": "1.70",
     "scheduled_start_date": "2026-03-04", "scheduled_start_time": "9:30", "modality": "mr",
     "accession_number": "A1", "requested_procedure_description": "Brain", "scheduled_station_aetitle": "MR1",
     "scheduled_procedure_step_status": "", "extra.PatientState": "fasting"},
    {"patient_id": "P2", "patient_name": "Doe, John", "scheduled_start_date": "20260305", "modality": "CT",
     "study_instance_uid": "1.2.3.4", "scheduled_start_time": "", "requested_procedure_priority": "high"},
    {"patient_id": "P3", "patient_name": "X", "scheduled_start_date": "2026-03-04", "modality": "US",
     "scheduled_procedure_step_id": "S1", "procedure_description": "Abdomen"},
    {"patient_id": "", "patient_name": "", "scheduled_start_date": "1900-01-01", "modality": "??"},
    {"patient_id": "P5", "patient_name": "Roe^Rick", "scheduled_start_date": "2026-03-06", "modality": "MR",
     "issuer_of_patient_id": "HOSP", "patient_weight_kg": "70.5", "medical_alerts": "none", "allergies": "latex",
     "requested_procedure_id": "RP5", "requested_procedure_code_value": "X1", "requested_procedure_code_scheme": "L",
     "requested_procedure_code_meaning": "MR head", "referring_physician_name": "House, Greg",
     "requesting_physician": "Grey^Meredith", "station_name": "mr-room", "scheduled_procedure_step_location": "B2",
     "performing_physician": "Doe, Jane", "protocol_name": "T1", "hisris_coding_designator": "L1"},
)


def _outcome(call: Any, *args: Any, **options: Any) -> Any:
    try:
        return ["ok", call(*args, **options)]
    except Exception as problem:  # noqa: BLE001 - how a normaliser refuses a value is part of its output
        return ["refused", type(problem).__name__, str(problem)]


def probe_outputs() -> list[Any]:
    """What the row pipeline makes of the probe set, in a JSON-ready form."""
    outputs: list[Any] = []
    for name, normalise in sorted(ALL_FORMATS.items()):
        outputs.append([name, [_outcome(normalise, value) for value in PROBE_VALUES]])
    for order in NAME_ORDERS:
        outputs.append([order, [_outcome(ALL_FORMATS["name"], value, name_order=order) for value in PROBE_VALUES]])
    for order in DATE_ORDERS:
        outputs.append([order, [_outcome(ALL_FORMATS["date"], value, date_order=order) for value in PROBE_VALUES]])
    for number, record in enumerate(PROBE_RECORDS):
        fields = {f"field{index}": name for index, name in enumerate(record)}  # no dots: a dot reads a path
        preparer = RowPreparer(FieldMapping.parse(fields), PROBE_TODAY)
        row = preparer.prepare({key: record[name] for key, name in fields.items()}, f"probe {number}", "")
        outputs.append(list(row.values) + [row.identity] if isinstance(row, PreparedRow) else [row.reason])
    return outputs


@cache
def normalisation_version() -> str:
    """The digest of :func:`probe_outputs` (computed once per process)."""
    return blake2b(canonical_bytes(probe_outputs()), digest_size=8).hexdigest()


#: Fields and virtual targets the probe records cover (a test compares it with every mapping target).
PROBED_TARGETS = frozenset(name for record in PROBE_RECORDS for name in record)
#: Every worklist field and virtual target a mapping may write.
ALL_TARGETS = frozenset([*(entry.column for entry in ATTRIBUTES if entry.target), *(v.name for v in VIRTUAL_TARGETS)])
