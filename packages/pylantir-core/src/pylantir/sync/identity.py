r"""Stable identities of worklist entries, generated Study Instance UIDs and content hashes.

An entry is one Scheduled Procedure Step. Its identity names its requested procedure, in order of
preference:

1. ``uid:<study_instance_uid>`` when the mapping provides a Study Instance UID;
2. ``acc:<accession_number>`` when it provides an accession number;

followed by ``\sps:<scheduled_procedure_step_id>`` when the step has an ID, so that the steps of one
requested procedure (different step ID, modality, station, time) are different entries sharing the Study
Instance UID; or else

3. ``key:<hash>``, a SHA-256 (first 40 hex digits) of patient ID, scheduled start date, scheduled start
   time, modality, requested procedure ID, scheduled procedure step ID and procedure description.

The same entry from two sources therefore has the same identity. An entry without a Study Instance UID
gets ``2.25.<uuid5 of its requested procedure's identity as an integer>`` (PS3.5 B.2): the same on every
sync, and the same for every step of the procedure. (``\`` never occurs in a UID or an accession number.)

Content hashes are digests of the raw record in a canonical encoding, the mapping and the normalisation
version (see :func:`record_hasher`).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping, Set
from datetime import date, datetime, time
from decimal import Decimal
from hashlib import blake2b
from typing import Any

import orjson

UID_NAMESPACE = uuid.UUID("7f0c3b8e-6a51-4c1e-9d2e-5b1f0a9e2c47")
KEY_FIELDS = (
    "patient_id",
    "scheduled_start_date",
    "scheduled_start_time",
    "modality",
    "requested_procedure_id",
    "scheduled_procedure_step_id",
    "procedure_description",
)


#: Separates the requested procedure's part of an identity from the step's.
STEP_SEPARATOR = "\\sps:"


def identity_of(row: Mapping[str, Any]) -> str | None:
    """The identity of a mapped row, or ``None`` when it has too little to identify it."""
    procedure = f"uid:{uid}" if (uid := row.get("study_instance_uid")) else (
        f"acc:{accession}" if (accession := row.get("accession_number")) else None)
    if procedure is not None:
        step = row.get("scheduled_procedure_step_id")
        return f"{procedure}{STEP_SEPARATOR}{step}" if step else procedure
    if not (row.get("patient_id") and row.get("scheduled_start_date") and row.get("modality")):
        return None
    key = "\x1f".join(str(row.get(name) or "") for name in KEY_FIELDS)
    return "key:" + hashlib.sha256(key.encode()).hexdigest()[:40]


_BASES = {"uid": "Study Instance UID", "acc": "accession number",
          "key": "patient ID, scheduled date and time, modality and procedure"}


def identity_basis(identity: str) -> str:
    """What an identity is made of, in words, without its values (they may be patient data)."""
    basis = _BASES[identity.partition(":")[0]]
    return f"{basis} and step ID" if STEP_SEPARATOR in identity else basis


_UUID5_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_UUID5_SET = (0x8000 << 48) | (5 << 76)
_UID_NAMESPACE_BYTES = UID_NAMESPACE.bytes  # UUID.bytes is computed on every access


def generated_uid(identity: str) -> str:
    """A Study Instance UID derived from the requested procedure's part of ``identity``: the integer of
    ``uuid5(UID_NAMESPACE, procedure)``, so that every step of one requested procedure gets the same.

    Computed as :func:`uuid.uuid5` does (SHA-1, version and variant bits), without building UUID objects.
    """
    procedure = identity.partition(STEP_SEPARATOR)[0]
    digest = hashlib.sha1(_UID_NAMESPACE_BYTES + procedure.encode(), usedforsecurity=False).digest()
    return f"2.25.{(int.from_bytes(digest[:16]) & _UUID5_CLEAR) | _UUID5_SET}"


def _canonical(value: Any) -> Any:
    """JSON form of what orjson does not encode itself, tagged by type (so "1" and Decimal("1") differ)."""
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": bytes(value).hex()}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Set):
        return {"$set": sorted(map(repr, value))}
    if isinstance(value, (date, datetime, time)):  # subclasses orjson leaves alone
        return {"$" + type(value).__name__: value.isoformat()}
    return {"$" + f"{type(value).__module__}.{type(value).__qualname__}": repr(value)}


_CANONICAL = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_SUBCLASS


def canonical_bytes(value: Any) -> bytes:
    """A stable encoding of ``value`` (JSON, keys sorted; equal content gives equal bytes on every Python).

    Dates and times are ISO 8601 (RFC 3339), decimals, bytes and sets are tagged with their type, and any
    other object is its type and ``repr``.
    """
    return orjson.dumps(value, default=_canonical, option=_CANONICAL)


def record_hasher(mapping_fingerprint: str, normalisation: str) -> Callable[[Mapping[str, Any]], str]:
    """A function giving the content hash of a raw record under one mapping and normalisation.

    The hash covers the record as the plugin yielded it, the mapping and the normalisation version
    (:func:`pylantir.sync.normalisation.normalisation_version`), so an unchanged record is recognised before
    it is mapped and nothing is written for it; changing the mapping or the engine's normalisation
    rewrites every row once.
    """
    prefix = f"{normalisation}:{mapping_fingerprint}:".encode()

    def digest(record: Mapping[str, Any]) -> str:
        return blake2b(prefix + canonical_bytes(record), digest_size=16).hexdigest()

    return digest
