"""Identities, generated UIDs and content hashes."""

from __future__ import annotations

import uuid
from datetime import date
from types import MappingProxyType

from pylantir.sync.identity import UID_NAMESPACE, generated_uid, identity_of, record_hasher


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


def test_content_hash_depends_on_content_and_mapping_only() -> None:
    digest = record_hasher("mapping-1")
    key = "".join(["pi", "d"])  # equal to the interned literal, but another object
    assert digest({"pid": "1", "when": "x"}) == digest({key: "1", "when": "x"})
    assert digest({"pid": "1"}) != digest({"pid": "2"}) != record_hasher("mapping-2")({"pid": "2"})
    assert digest({"at": date(2026, 1, 2)}) == digest(MappingProxyType({"at": date(2026, 1, 2)}))
