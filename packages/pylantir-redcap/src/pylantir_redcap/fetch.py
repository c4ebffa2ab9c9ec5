"""One fetch of a ``redcap`` source: full or incremental export, then rows to records.

Incremental sync: after a full export, REDCap is asked only for records created or modified since
the start of the last successful fetch (the API's ``dateRangeBegin``, in the REDCap server's time
zone, with a few minutes of overlap for clock skew), and the fetch is marked incomplete so nothing
is removed. Every ``full_export_interval`` seconds, and whenever the export settings change, a full
export is made again so deleted records and instances are seen.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zoneinfo
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pylantir import FetchState, Record
from pylantir_redcap.config import RedcapConfig
from pylantir_redcap.connection import RedcapConnection
from pylantir_redcap.fields import ExportFields, export_fields, record_id_field
from pylantir_redcap.rows import RowSelection

log = logging.getLogger("pylantir_redcap")

CLOCK_SKEW_OVERLAP = timedelta(minutes=5)


def fetch_records(
    source_name: str, cfg: RedcapConfig, fields: frozenset[str], state: FetchState
) -> Iterator[Record]:
    """Export the source's rows from REDCap and yield one raw record per selected row."""
    started = datetime.now(UTC)
    connection = RedcapConnection(source_name, cfg)
    metadata = connection.call("reading the data dictionary", lambda: connection.project.metadata)
    if not isinstance(metadata, list) or not metadata or not all(
        isinstance(row, dict) and "field_name" in row for row in metadata
    ):
        raise connection.error("the data dictionary (content=metadata) is not a list of fields")
    wanted = set(fields) | set(cfg.fields) | set(cfg.require_fields)
    if cfg.site_field:
        wanted.add(cfg.site_field)
    export = export_fields(metadata, wanted)
    _report_unknown(connection, export)
    project_key = f"{connection.url}|{_project_id(connection)}"
    fingerprint = _fingerprint(cfg, export)
    since = _incremental_since(cfg, state, started, fingerprint)
    rows = connection.call(
        "exporting records",
        lambda: connection.project.export_records(
            format_type="json",
            fields=export.request,
            events=cfg.events or None,
            filter_logic=cfg.filter_logic,
            export_data_access_groups=export.with_dag,
            date_begin=_server_time(cfg, since) if since else None,
        ),
    )
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise connection.error("the record export (content=record) is not a list of rows")
    _record_state(state, started, since, fingerprint, rows)
    log.info(
        "source %s: %s export returned %d rows",
        source_name, "incremental" if since else "full", len(rows),
    )
    selection = RowSelection(cfg, project_key)
    yield from selection.records(rows, record_id_field(metadata))
    log.info("source %s: %d rows left out by require_fields or site", source_name, selection.skipped)


def _project_id(connection: RedcapConnection) -> str:
    """The project's ID (content=project), part of every row's Study Instance UID."""
    info = connection.call("reading the project information", connection.project.export_project_info)
    if not isinstance(info, dict) or "project_id" not in info:
        raise connection.error("the project information (content=project) has no project_id")
    return str(info["project_id"])


def _report_unknown(connection: RedcapConnection, export: ExportFields) -> None:
    if not export.unknown:
        return
    names = ", ".join(export.unknown)
    if connection.cfg.unknown_fields == "error":
        raise connection.error(
            f"the project has no field(s) {names} (read by field_mapping or config); "
            "fix the names, or set config.unknown_fields to \"warn\" to leave them out"
        )
    log.warning("source %s: the REDCap project has no field(s) %s; left out", connection.source_name, names)


def _fingerprint(cfg: RedcapConfig, export: ExportFields) -> str:
    """A digest of everything that decides which rows an export returns and what they carry."""
    settings = {"config": cfg.model_dump(mode="json"), "fields": export.request, "dag": export.with_dag}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _incremental_since(
    cfg: RedcapConfig, state: FetchState, now: datetime, fingerprint: str
) -> datetime | None:
    """Start of the date range for an incremental export, or ``None`` for a full export."""
    previous: Mapping[str, Any] = state.previous or {}
    last_full = _parse_time(previous.get("last_full_export"))
    since = _parse_time(previous.get("since")) or state.last_success
    if not cfg.incremental or last_full is None or since is None:
        return None
    if previous.get("fingerprint") != fingerprint:
        return None
    if now - last_full >= timedelta(seconds=cfg.full_export_interval):
        return None
    return since.replace(tzinfo=since.tzinfo or UTC)


def _server_time(cfg: RedcapConfig, moment: datetime) -> datetime:
    """``moment`` on the REDCap server's wall clock (naive, as the API expects), minus the overlap."""
    zone = zoneinfo.ZoneInfo(cfg.server_timezone) if cfg.server_timezone else None
    return (moment - CLOCK_SKEW_OVERLAP).astimezone(zone).replace(tzinfo=None)


def _record_state(
    state: FetchState,
    started: datetime,
    since: datetime | None,
    fingerprint: str,
    rows: Sequence[Any],
) -> None:
    full = since is None
    state.complete = full
    state.unchanged = not full and not rows
    state.saved.update(
        since=started.isoformat(),
        last_full_export=started.isoformat() if full else state.previous.get("last_full_export"),
        fingerprint=fingerprint,
    )
