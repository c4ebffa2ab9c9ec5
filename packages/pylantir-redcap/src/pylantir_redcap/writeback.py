"""Performed-step write-back to REDCap: the status and performed date/times into fields the site names, for
the record, event and repeating instance each entry came from, through PyCap's ``import_records``.

Dates and times go in the API's import format whatever a field displays (``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM``
or ``YYYY-MM-DD HH:MM:SS`` by the field's validation, ``HH:MM`` for a time field), read from the data
dictionary on every batch. A field on the repeating instrument the entry came from is written to that
instance; a field on another form of the event to the event's own row. Imports use REDCap's ``normal``
overwrite behaviour (only the named fields change) and write the current state, so a change written twice
leaves the record as written once. A record deleted from REDCap since the sync is not written (an import
would create it again): its change fails, saying so.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from pylantir import ConfigProblem, SourceError, StepChange, TransientSourceError, WriteBackResult
from pylantir.validation import problems_from_model
from pylantir_redcap.config import FieldName, RedcapConfig
from pylantir_redcap.connection import RedcapConnection
from pylantir_redcap.fields import record_id_field

Status = Literal["STARTED", "COMPLETED", "DISCONTINUED"]
#: Field types whose stored value is one of the field's coded choices.
CODED_TYPES = frozenset({"radio", "dropdown", "yesno", "truefalse"})
_FIXED_CHOICES = {"yesno": "1, Yes | 0, No", "truefalse": "1, True | 0, False"}
#: Import formats by the text validation of a field (the API's own, whatever the field displays).
_MOMENT_FORMATS = {"date": "%Y-%m-%d", "datetime": "%Y-%m-%d %H:%M", "datetime_seconds": "%Y-%m-%d %H:%M:%S",
                   "time": "%H:%M", "": "%Y-%m-%d %H:%M:%S"}


class WriteBackConfig(BaseModel):
    """``write_back.config`` of a ``redcap`` source: which fields receive what (see docs/sources-redcap.md)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    #: The field that receives the step's status.
    status_field: FieldName
    #: The value to write for each status (required for a radio, dropdown, yes/no or true/false field); a status
    #: left out is not written. Without it the status is written as it is (``STARTED``...).
    status_values: dict[Status, str] | None = None
    #: Fields that receive the Performed Procedure Step start and end (date, date-time or time fields).
    started_field: FieldName | None = None
    ended_field: FieldName | None = None
    #: A text field that receives the performing station's AE title.
    station_field: FieldName | None = None

    def targets(self) -> dict[str, str]:
        """Config key -> field name, for the fields this config writes."""
        named = {"status_field": self.status_field, "started_field": self.started_field,
                 "ended_field": self.ended_field, "station_field": self.station_field}
        return {key: name for key, name in named.items() if name is not None}


def check_settings(settings: Mapping[str, Any]) -> list[ConfigProblem]:
    """Every problem of ``write_back.config`` that needs no REDCap (no I/O)."""
    problems = problems_from_model(WriteBackConfig, settings)
    if problems:
        return problems
    targets = WriteBackConfig.model_validate(dict(settings)).targets()
    seen: dict[str, str] = {}
    for key, name in targets.items():
        if name in seen:
            problems.append(ConfigProblem(key, f"field {name} is already {seen[name]}"))
        seen.setdefault(name, key)
    return problems


def _validation_kind(field: Mapping[str, Any]) -> str | None:
    """``date``, ``datetime``, ``datetime_seconds``, ``time`` or ``""`` (plain text); ``None``: not a text field."""
    if field.get("field_type") != "text":
        return None
    validation = str(field.get("text_validation_type_or_show_slider_number") or "")
    if not validation:
        return ""
    for kind in ("datetime_seconds", "datetime", "date"):
        if validation.startswith(kind + "_"):
            return kind
    return "time" if validation in ("time", "time_hh_mm") else None


def _codes(field: Mapping[str, Any]) -> list[str]:
    choices = _FIXED_CHOICES.get(str(field.get("field_type")), str(field.get("select_choices_or_calculations") or ""))
    return [choice.split(",", 1)[0].strip() for choice in choices.split("|") if choice.strip()]


def field_problems(
    cfg: RedcapConfig, wb: WriteBackConfig, metadata: Sequence[Mapping[str, Any]]
) -> list[ConfigProblem]:
    """What in ``wb`` the project's data dictionary refutes (missing fields, fields that cannot hold the value)."""
    fields = {str(row["field_name"]): row for row in metadata}
    problems: list[ConfigProblem] = []
    for key, name in wb.targets().items():
        field = fields.get(name)
        if field is None:
            problems.append(ConfigProblem(key, f"the project has no field {name}"))
            continue
        kind = str(field.get("field_type"))
        if key == "status_field" and kind in CODED_TYPES:
            problems.extend(_coded_status_problems(wb, name, kind, _codes(field)))
        elif key == "status_field" and kind not in ("text", "notes"):
            problems.append(ConfigProblem(key, f"field {name} is a {kind} field; it cannot hold a status"))
        elif key in ("started_field", "ended_field") and _validation_kind(field) is None:
            problems.append(ConfigProblem(
                key, f"field {name} is not a date, date-time, time or plain text field (it is {kind} "
                     f"{field.get('text_validation_type_or_show_slider_number') or ''})".rstrip() + ")"))
        elif key == "station_field" and _validation_kind(field) != "" and kind != "notes":
            problems.append(ConfigProblem(key, f"field {name} is not a plain text field"))
        if cfg.repeat_instrument and field.get("form_name") != cfg.repeat_instrument:
            problems.append(ConfigProblem(
                key, f"field {name} is on form {field.get('form_name')}, not on the repeating instrument "
                     f"{cfg.repeat_instrument}: every instance of an event writes the same field", "warning"))
    return problems


def _coded_status_problems(wb: WriteBackConfig, name: str, kind: str, codes: list[str]) -> list[ConfigProblem]:
    if wb.status_values is None:
        return [ConfigProblem("status_values", f"field {name} is a {kind} field: give the code to write for "
                                               f"STARTED, COMPLETED and DISCONTINUED (its codes: {', '.join(codes)})")]
    return [ConfigProblem(f"status_values.{status}", f"{value!r} is not a code of field {name} "
                                                     f"(its codes: {', '.join(codes)})")
            for status, value in wb.status_values.items() if value not in codes]


def check_project(source_name: str, cfg: RedcapConfig, wb: WriteBackConfig) -> list[ConfigProblem]:
    """``sources check``: the fields against the data dictionary, and the token's right to import."""
    connection = RedcapConnection(source_name, cfg)
    metadata = connection.call("reading the data dictionary", lambda: connection.project.metadata)
    problems = field_problems(cfg, wb, metadata)
    id_field = record_id_field(metadata)
    rows = connection.call("exporting record IDs", lambda: connection.project.export_records(fields=[id_field]))
    if not rows:
        return [*problems, ConfigProblem("", "the project has no record yet: the token's right to import "
                                             "could not be checked", "warning")]
    # A no-op import (a record's own ID, nothing else) is refused without the API Import/Update right.
    try:
        connection.call("checking the right to import",
                        lambda: connection.project.import_records([{id_field: rows[0][id_field]}]))
    except TransientSourceError:
        raise
    except SourceError as exc:
        problems.append(ConfigProblem("", f"the API token cannot import records ({exc}); give its user the "
                                          "API Import/Update right"))
    return problems


def _moment(value: datetime | None, field: Mapping[str, Any]) -> str | None:
    kind = _validation_kind(field)
    return value.strftime(_MOMENT_FORMATS[kind or ""]) if value is not None else None


class _Imports:
    """The import rows of one change: one for its repeating instance's fields, one for its event's."""

    def __init__(self, wb: WriteBackConfig, metadata: Sequence[Mapping[str, Any]]):
        self.wb = wb
        self.fields = {str(row["field_name"]): row for row in metadata}
        self.id_field = record_id_field(metadata)

    def values(self, change: StepChange) -> dict[str, str]:
        values: dict[str, str] = {}
        if self.wb.status_values is None:
            values[self.wb.status_field] = change.status
        elif (code := self.wb.status_values.get(change.status)) is not None:  # type: ignore[call-overload]
            values[self.wb.status_field] = code
        for name, moment in ((self.wb.started_field, change.started_at), (self.wb.ended_field, change.ended_at)):
            if name is not None and (text := _moment(moment, self.fields.get(name, {}))) is not None:
                values[name] = text
        station = change.attributes.get("PerformedStationAETitle")
        if self.wb.station_field is not None and station:
            values[self.wb.station_field] = station
        return values

    def rows(self, change: StepChange) -> Iterator[dict[str, Any]]:
        key = change.key or {}
        instrument = key.get("repeat_instrument")
        by_row: dict[bool, dict[str, Any]] = {}
        for name, value in self.values(change).items():
            on_instance = bool(instrument) and self.fields.get(name, {}).get("form_name") == instrument
            by_row.setdefault(on_instance, {})[name] = value
        for on_instance, values in by_row.items():
            row: dict[str, Any] = {self.id_field: key["record"]}
            if key.get("event"):
                row["redcap_event_name"] = key["event"]
            if on_instance:
                row["redcap_repeat_instrument"] = instrument
                row["redcap_repeat_instance"] = key.get("repeat_instance")
            elif not instrument and key.get("repeat_instance"):  # a repeating event
                row["redcap_repeat_instrument"] = ""
                row["redcap_repeat_instance"] = key["repeat_instance"]
            yield {**row, **values}


def _leave_out_deleted(connection: RedcapConnection, id_field: str, changes: Sequence[StepChange],
                       writable: dict[int, list[dict[str, Any]]], results: list[WriteBackResult]) -> None:
    """Fail the changes of records deleted from REDCap since the sync: an import would create them again."""
    if not writable:
        return
    wanted = sorted({str(rows[0][id_field]) for rows in writable.values()})
    found = connection.call("looking up the records", lambda: connection.project.export_records(
        records=wanted, fields=[id_field]))
    existing = {str(row.get(id_field)) for row in found or []}
    for change in changes:
        if change.change_id in writable and str(writable[change.change_id][0][id_field]) not in existing:
            del writable[change.change_id]
            results.append(WriteBackResult.failed(
                change, f"{change.location or 'the record'} no longer exists in REDCap; not created again"))


def write_changes(
    source_name: str, cfg: RedcapConfig, wb: WriteBackConfig, changes: Sequence[StepChange]
) -> list[WriteBackResult]:
    """Import the changes in one request; when REDCap refuses it, one request per change tells which fail."""
    connection = RedcapConnection(source_name, cfg)
    metadata = connection.call("reading the data dictionary", lambda: connection.project.metadata)
    imports = _Imports(wb, metadata)
    results: list[WriteBackResult] = []
    writable: dict[int, list[dict[str, Any]]] = {}
    for change in changes:
        if not imports.values(change):
            results.append(WriteBackResult.done(change))  # nothing configured for this status
        elif not (change.key or {}).get("record"):
            results.append(WriteBackResult.failed(
                change, f"entry {change.location or change.identity} has no REDCap record key (synced before "
                        "write-back existed and not since): sync the source, then it is written"))
        else:
            writable[change.change_id] = list(imports.rows(change))
    _leave_out_deleted(connection, imports.id_field, changes, writable, results)
    if not writable:
        return results

    def send(rows: list[dict[str, Any]]) -> None:
        connection.call("importing performed steps", lambda: connection.project.import_records(rows))

    try:
        send([row for rows in writable.values() for row in rows])
        return results + [WriteBackResult.done(change) for change in changes if change.change_id in writable]
    except TransientSourceError:
        raise
    except SourceError as exc:
        if len(writable) == 1:
            change = next(c for c in changes if c.change_id in writable)
            return [*results, WriteBackResult.failed(change, str(exc))]
    for change in changes:
        if change.change_id not in writable:
            continue
        try:
            send(writable[change.change_id])
        except TransientSourceError as exc:
            results.append(WriteBackResult.retry(change, str(exc)))
        except SourceError as exc:
            results.append(WriteBackResult.failed(change, str(exc)))
        else:
            results.append(WriteBackResult.done(change))
    return results
