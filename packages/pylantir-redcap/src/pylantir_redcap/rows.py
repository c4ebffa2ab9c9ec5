"""From REDCap's flat rows to one raw record per scheduled exam.

REDCap exports a participant as several rows: a non-repeating row per event (the first one is the
baseline) and one row per instance of a repeating instrument. Each *selected* row (the rows of
``repeat_instrument``, or the non-repeating rows when none is configured) becomes one record; fields
it leaves empty are taken from the non-repeating row of its event, then from the baseline row.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pylantir import Record
from pylantir_redcap.config import RedcapConfig
from pylantir_redcap.fields import SOURCE_KEY
from pylantir_redcap.previous import previous_identifiers

Row = Mapping[str, Any]


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _group_by_record(rows: Iterable[Row], id_field: str) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(str(row.get(id_field, "")), []).append(row)
    return groups


def _merge(row: Row, *fallbacks: Row | None) -> dict[str, Any]:
    merged = dict(row)
    for fallback in fallbacks:
        for key, value in (fallback or {}).items():
            if _empty(merged.get(key)) and not _empty(value):
                merged[key] = value
    return merged


_UID_NAMESPACE = uuid.UUID("3f6a1c52-8e0b-4d7e-a1f4-6c2b9d0e5a71")


def row_uid(project_key: str, record_id: str, row: Row) -> str:
    """A Study Instance UID (``2.25.<uuid5>``) for one REDCap row: same row, same UID, on every sync.

    Derived from the project (``project_key``: API URL and project ID), the record, the event and the
    repeating instrument and instance, so rescheduling an exam in REDCap keeps its UID.
    """
    parts = (project_key, record_id, row.get("redcap_event_name"), row.get("redcap_repeat_instrument"),
             row.get("redcap_repeat_instance"))
    name = "\x1f".join("" if part is None else str(part) for part in parts)
    return f"2.25.{uuid.uuid5(_UID_NAMESPACE, name).int}"


def _location(record_id: str, row: Row) -> str:
    parts = ["record", record_id]
    if event := row.get("redcap_event_name"):
        parts.append(str(event))
    if instrument := row.get("redcap_repeat_instrument"):
        parts.append(f"{instrument} #{row.get('redcap_repeat_instance', '')}")
    return " ".join(parts)


def _key(record_id: str, row: Row) -> dict[str, Any]:
    """The row's identity in REDCap (what write-back imports to): record, event, repeating instrument, instance."""
    key: dict[str, Any] = {"record": record_id}
    for name, column in (("event", "redcap_event_name"), ("repeat_instrument", "redcap_repeat_instrument"),
                         ("repeat_instance", "redcap_repeat_instance")):
        if not _empty(row.get(column)):
            key[name] = row[column]
    return key


class RowSelection:
    """The selection rules of one source's config, applied to each participant's rows."""

    def __init__(self, cfg: RedcapConfig, project_key: str):
        self.cfg = cfg
        self.project_key = project_key
        self.source_values = {
            key: value
            for key, value in (("site_id", cfg.site_id), ("protocol", cfg.protocol_name()))
            if value is not None
        }
        self.skipped = 0

    def _in_arms(self, row: Row) -> bool:
        event = str(row.get("redcap_event_name") or "")
        return not self.cfg.arms or any(event.endswith(f"_arm_{arm}") for arm in self.cfg.arms)

    def _selected(self, row: Row) -> bool:
        instrument = row.get("redcap_repeat_instrument") or None
        return instrument == self.cfg.repeat_instrument and self._in_arms(row)

    def _accepted(self, merged: Row) -> bool:
        if any(_empty(merged.get(field)) for field in self.cfg.require_fields):
            return False
        if self.cfg.site_field is not None:
            return str(merged.get(self.cfg.site_field, "")).strip() == self.cfg.site_id
        return True

    def records(self, rows: Iterable[Row], id_field: str) -> Iterator[Record]:
        """One :class:`pylantir.Record` per selected row that passes ``require_fields`` and the site."""
        for record_id, group in _group_by_record(rows, id_field).items():
            by_event: dict[Any, Row] = {}
            for row in group:
                if not row.get("redcap_repeat_instrument"):
                    by_event.setdefault(row.get("redcap_event_name"), row)
            baseline = next(iter(by_event.values()), None)
            for row in group:
                if not self._selected(row):
                    continue
                merged = _merge(row, by_event.get(row.get("redcap_event_name")), baseline)
                if not self._accepted(merged):
                    self.skipped += 1
                    continue
                added = {**self.source_values, "study_instance_uid": row_uid(self.project_key, record_id, row)}
                if self.cfg.previous_identifiers:
                    added.update(previous_identifiers(merged, self.cfg.site_id) or {})
                merged[SOURCE_KEY] = added
                yield Record(merged, _location(record_id, row), _key(record_id, row))
