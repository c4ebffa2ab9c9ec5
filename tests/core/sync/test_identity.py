"""Identities, generated UIDs and content hashes."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType

import pytest

from pylantir.sync.identity import (
    UID_NAMESPACE,
    canonical_bytes,
    generated_uid,
    identity_basis,
    identity_of,
    record_hasher,
)


def test_identity_prefers_uid_then_accession_then_the_documented_key() -> None:
    row = {"patient_id": "P1", "scheduled_start_date": "20260105", "modality": "MR"}
    assert identity_of(row | {"study_instance_uid": "1.2.3", "accession_number": "A1"}) == "uid:1.2.3"
    assert identity_of(row | {"accession_number": "A1"}) == "acc:A1"
    key = identity_of(row)
    assert key is not None and key.startswith("key:") and len(key) == 44
    assert identity_of(row | {"scheduled_start_time": "090000"}) != key
    assert identity_of({"patient_id": "P1"}) is None


def test_generated_uid_is_uuid5_of_the_identity() -> None:
    for identity in ("acc:A1", "key:abc", "uid:x"):
        assert generated_uid(identity) == f"2.25.{uuid.uuid5(UID_NAMESPACE, identity).int}"
    assert len(generated_uid("acc:A1")) <= 64


def test_content_hash_depends_on_content_mapping_and_normalisation_only() -> None:
    digest = record_hasher("mapping-1", "n1")
    key = "".join(["pi", "d"])  # equal to the interned literal, but another object
    assert digest({"pid": "1", "when": "x"}) == digest({key: "1", "when": "x"}) == digest({"when": "x", "pid": "1"})
    assert digest({"pid": "1"}) != digest({"pid": "2"}) != record_hasher("mapping-2", "n1")({"pid": "2"})
    assert record_hasher("mapping-2", "n2")({"pid": "2"}) != record_hasher("mapping-2", "n1")({"pid": "2"})
    assert digest({"at": date(2026, 1, 2)}) == digest(MappingProxyType({"at": date(2026, 1, 2)}))


def test_canonical_encoding_tells_types_apart_and_knows_no_order() -> None:
    assert canonical_bytes({"b": 1, "a": [1, "x"]}) == b'{"a":[1,"x"],"b":1}'
    values = ["1", 1, 1.0, Decimal("1"), b"1", date(2026, 1, 2), datetime(2026, 1, 2), {"1"}, None, True]
    assert len({canonical_bytes(value) for value in values}) == len(values)
    assert canonical_bytes(date(2026, 1, 2)) == b'"2026-01-02"'  # as its ISO 8601 text (RFC 3339)
    assert canonical_bytes({3, 1, 2}) == canonical_bytes({2, 3, 1})
    assert canonical_bytes({1: "x"}) == b'{"1":"x"}'
    assert canonical_bytes(Decimal("72.50")) == b'{"$decimal":"72.50"}'


def test_content_hash_is_the_same_in_every_process() -> None:
    # no hash randomisation, no interpreter-specific format (as marshal had): a subprocess agrees
    script = (
        "from datetime import date; from decimal import Decimal; from pylantir.sync.identity import record_hasher; "
        "print(record_hasher('m', 'n')({'a': {'x', 'y'}, 'b': Decimal('1.5'), 'c': date(2026, 1, 2), 'd': b'z'}))"
    )
    here = record_hasher("m", "n")({"a": {"x", "y"}, "b": Decimal("1.5"), "c": date(2026, 1, 2), "d": b"z"})
    for seed in ("1", "2"):
        there = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                               env={**os.environ, "PYTHONHASHSEED": seed})
        assert there.stdout.strip() == here


@pytest.mark.parametrize(
    ("row", "basis"),
    [({"study_instance_uid": "1.2.3"}, "Study Instance UID"),
     ({"accession_number": "A1", "scheduled_procedure_step_id": "S1"}, "accession number and step ID"),
     ({"patient_id": "P1", "scheduled_start_date": "20260101", "modality": "MR"},
      "patient ID, scheduled date and time, modality and procedure")],
)
def test_an_identity_is_described_without_its_values(row, basis) -> None:
    identity = identity_of(row)
    assert identity is not None and identity_basis(identity) == basis
