"""From one Calpendo booking to one raw record for the source's ``field_mapping``.

The record is the booking as Calpendo returns it, with two additions:

- every entry of ``properties`` the top level lacks is copied to the top level: Calpendo 11 moved
  ``title``, ``status`` and the date range into ``properties``, so ``title`` or ``status`` read the same
  from both kinds of server (as the previous Pylantir read single names);
- ``_source`` (Calpendo's own keys never start with ``_``): ``booking_id``; ``study_instance_uid``, a UID
  derived from the server and the booking ID, so a renamed, moved or rescheduled booking keeps it;
  ``start_date``, ``start_time`` and, when the booking has an end, ``end_date``, ``end_time`` and
  ``duration_minutes``, in the source's time zone; ``modality`` (``resource_modality_mapping``) and
  ``operator`` (MRI bookings).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pylantir import Record, Rejected
from pylantir_calpendo.config import CalpendoConfig

#: Key of the nested mapping of values the plugin adds to each booking.
SOURCE_KEY = "_source"

_UID_NAMESPACE = uuid.UUID("8822e966-63e3-4955-b61d-530e0dce318a")
#: A legacy server's ``formattedName``: ``[2026-01-27 14:00:00.0, 2026-01-27 15:30:00.0]``.
_LEGACY_RANGE = re.compile(r"^\[([^,\]]+),\s*([^\]]+)\]$")
_NO_START = "no start time: neither properties.dateRange.start nor formattedName ('[start, end]') is a date-time"


def booking_uid(base_url: str, booking_id: str) -> str:
    """A Study Instance UID (``2.25.<uuid5>``) for one booking of one server: the same on every sync.

    Derived from ``base_url`` (scheme and host in lower case) and the booking ID only, so it survives
    renames, reschedules and a server's move from ``/webdav`` to ``/api``.
    """
    parts = urlsplit(base_url)
    server = f"{parts.scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"
    return f"2.25.{uuid.uuid5(_UID_NAMESPACE, f'{server}|{booking_id}').int}"


def booking_location(booking_id: str) -> str:
    """Where a booking's record comes from, in rejections and as the worklist entry's ``source_key``."""
    return f"booking {booking_id}"


def booking_record(
    cfg: CalpendoConfig, booking: Mapping[str, Any], booking_id: str, operator: str | None
) -> Record | Rejected:
    """The raw record of ``booking``, or why it cannot be one (quoting no patient data)."""
    location = booking_location(booking_id)
    record = _hoisted(booking)
    zone = ZoneInfo(cfg.timezone)
    start, end = _times(record, zone)
    if start is None:
        return Rejected(location, _NO_START)
    seconds = (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() if end is not None else None
    if seconds is not None and seconds < 0:
        return Rejected(location, "its end is before its start")
    added: dict[str, Any] = {
        "booking_id": booking_id,
        "study_instance_uid": booking_uid(cfg.base_url, booking_id),
        "start_date": start.date().isoformat(),
        "start_time": f"{start:%H:%M:%S}",
    }
    if end is not None and seconds is not None:
        added.update(end_date=end.date().isoformat(), end_time=f"{end:%H:%M:%S}",
                     duration_minutes=int(seconds // 60))
    if cfg.resource_modality_mapping:
        resource = _resource_name(record)
        modality = cfg.modality_of(resource) if resource is not None else None
        if modality is None:
            what = f"resource '{resource}'" if resource is not None else "no resource"
            return Rejected(location, f"{what} matches no entry of config.resource_modality_mapping")
        added["modality"] = modality
    if operator is not None:
        added["operator"] = operator
    record[SOURCE_KEY] = added
    return Record(record, location)


def _hoisted(booking: Mapping[str, Any]) -> dict[str, Any]:
    record = dict(booking)
    properties = booking.get("properties")
    if isinstance(properties, Mapping):
        for key, value in properties.items():
            if record.get(key) is None:
                record[key] = value
    return record


def _times(record: Mapping[str, Any], zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """Start and end in ``zone``: from ``dateRange`` (Calpendo 11+), else from a legacy ``formattedName``."""
    date_range = record.get("dateRange")
    if isinstance(date_range, Mapping):
        end = date_range.get("finish", date_range.get("end"))
        return _moment(date_range.get("start"), zone), _moment(end, zone)
    name = record.get("formattedName")
    match = _LEGACY_RANGE.match(name.strip()) if isinstance(name, str) else None
    return (_moment(match[1], zone), _moment(match[2], zone)) if match else (None, None)


def _moment(value: Any, zone: ZoneInfo) -> datetime | None:
    """An ISO 8601 date-time in ``zone``; one without an offset is the server's (= the source's) local time."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)


def _resource_name(record: Mapping[str, Any]) -> str | None:
    resource = record.get("resource")
    if not isinstance(resource, Mapping):
        return None
    name = resource.get("name") or resource.get("formattedName")
    return str(name) if name else None
