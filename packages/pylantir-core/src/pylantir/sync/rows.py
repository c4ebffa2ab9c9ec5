"""One raw record to one prepared worklist row: map, complete, check, identify, hash."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from pylantir.store.catalogue import EXTRA_COLUMNS, STATUS
from pylantir.sync.fields import COLUMN_VRS
from pylantir.sync.identity import generated_uid, identity_of
from pylantir.sync.mapping import FieldMapping, RowError
from pylantir.sync.quality import QualityGate

#: The worklist columns a sync writes from a row, in the order of :attr:`PreparedRow.values`.
COLUMNS: tuple[str, ...] = (*COLUMN_VRS, "scheduled_start", *EXTRA_COLUMNS.values())
DEFAULT_STATUS = "SCHEDULED"
#: The columns of a row in insert form (:meth:`PreparedRow.insert_form`), in order.
INSERT_COLUMNS: tuple[str, ...] = ("identity", "content_hash", "source_key", "source_record_key", *COLUMNS)
#: Stored length of ``source_key`` (the row's location in the source).
SOURCE_KEY_LENGTH = 128


class Raw(NamedTuple):
    """A raw record to prepare: its data, its location in the source, its content hash and its ``Record.key``."""

    data: Mapping[str, Any]
    location: str
    content_hash: str
    key: Mapping[str, Any] | None = None


class PreparedRow(NamedTuple):
    """A valid row ready to write (a tuple, so that spooling it is cheap)."""

    identity: str
    location: str
    content_hash: str
    values: tuple[Any, ...]
    #: The record's key in its source (``Record.key``) as JSON text, or ``None``.
    key: str | None = None

    def insert_form(self) -> tuple[Any, ...]:
        """The row as one flat tuple of the :data:`INSERT_COLUMNS` (how the spool keeps it for the writer)."""
        return (self.identity, self.content_hash, self.location[:SOURCE_KEY_LENGTH], self.key, *self.values)


@dataclass(frozen=True)
class Rejection:
    """A row that cannot be written: the first field at fault and every problem, without values.

    ``identity`` is set when the row could still be identified (so removal keeps its stored entry);
    ``problems`` holds each ``(field, message)`` of a row the quality gate refused (a form shows each message
    beside its field).
    """

    location: str
    field: str | None
    reason: str
    identity: str | None = None
    problems: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, location: str, problems: list[tuple[str, str]], identity: str | None = None) -> Rejection:
        """One rejection listing every ``(field, reason)`` problem of a row."""
        reason = "; ".join(f"field {field}: {message}" for field, message in problems)
        return cls(location, problems[0][0], reason, identity, tuple(problems))


class RowPreparer:
    """Turns raw records of one source into :class:`PreparedRow` or :class:`Rejection` items."""

    def __init__(self, mapping: FieldMapping, today: date):
        self.mapping = mapping
        self.gate = QualityGate(today)
        #: the mappings of records, each None unless its every value passes the gate
        self._checked = mapping.checked(self.gate.passes, self.gate.text_match)

    def prepare(
        self, data: Mapping[str, Any], location: str, content_hash: str, key: Mapping[str, Any] | None = None
    ) -> PreparedRow | Rejection:
        """Map and check one record whose raw content hash is ``content_hash`` (``key``: its ``Record.key``)."""
        return self.prepare_all([Raw(data, location, content_hash, key)])[0]

    def prepare_all(self, records: Sequence[Raw]) -> list[PreparedRow | Rejection]:
        """:meth:`prepare` of each record, in order (the mapping runs over all of them at once)."""
        mapped = self._checked([record.data for record in records])
        return [self._finish(record, row) for record, row in zip(records, mapped, strict=True)]

    def _finish(self, record: Raw, row: dict[str, Any] | None) -> PreparedRow | Rejection:
        """The prepared row or rejection of ``record``, given its mapping if every value passed the gate."""
        if row is not None:  # every value is valid: only required fields may be missing
            problems = self.gate.missing(row)
        else:
            row, problems = self._problems(record.data)
        if not row.get(STATUS):
            row[STATUS] = DEFAULT_STATUS
        identity = identity_of(row)
        encoded_key = None
        if record.key is not None:
            try:
                encoded_key = json.dumps(dict(record.key), sort_keys=True, separators=(",", ":"))
            except (TypeError, ValueError) as exc:
                problems.append(("key", f"the plugin's record key is not a mapping of JSON values ({exc})"))
        if problems or identity is None:
            return Rejection.of(record.location, problems, identity)
        if not row.get("study_instance_uid"):
            row["study_instance_uid"] = generated_uid(identity)
        time = (row.get("scheduled_start_time") or "000000")[:6].ljust(6, "0")
        row["scheduled_start"] = row["scheduled_start_date"] + time
        values = tuple(map(row.get, COLUMNS))
        return PreparedRow(identity, record.location, record.content_hash, values, encoded_key)

    def _problems(self, data: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """The mapped row of a record with a problem (what could be mapped) and every problem, in order."""
        try:
            row = self.mapping.apply(data)
        except RowError as exc:
            unreadable = {field for field, _ in exc.problems}
            return exc.row, exc.problems + [p for p in self.gate.check(exc.row) if p[0] not in unreadable]
        return row, self.gate.check(row)
