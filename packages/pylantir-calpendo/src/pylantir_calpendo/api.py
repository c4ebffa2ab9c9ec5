"""Calpendo's query API as this plugin calls it; the same paths under ``/api`` (11+) and ``/webdav`` (older).

- ``q/Calpendo.Booking/<EXPR>``: the bookings matching a condition, as ``{"biskits": [{"id": ...}, ...]}``.
  ``EXPR`` is prefix notation: ``AND/<EXPR>/.../<EXPR>/CLOSE`` (or ``OR``), or ``<path>/<RELATION>/<value>``;
  date-times are written ``YYYYMMDD-HHMM`` in the server's time zone.
- ``b/Calpendo.Booking/<id>``: one booking with its ``properties`` (404 once it is deleted).
- ``q/MRIScan/id/EQ/<id>?paths=Operator.name``: the operator of an MRI booking, in
  ``biskits[0].properties.Operator.name``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pylantir_calpendo.config import CalpendoConfig
from pylantir_calpendo.connection import CalpendoConnection
from pylantir_calpendo.window import FetchWindow

BOOKING_TYPE = "Calpendo.Booking"
MRI_BOOKING_TYPE = "MRIScan"


def booking_query(cfg: CalpendoConfig, windows: Sequence[FetchWindow]) -> str:
    """The condition selecting the bookings to fetch: start in a window, and each filter of the config."""
    ranges = [[f"dateRange.start/GE/{_stamp(w.start)}", f"dateRange.start/LT/{_stamp(w.end)}"] for w in windows]
    starts = ranges[0] if len(ranges) == 1 else [_group("OR", [_group("AND", terms) for terms in ranges])]
    conditions = [
        *starts,
        _any_of("resource.name", cfg.resources),
        _any_of("status", cfg.status_filter),
        _any_of("project.name", cfg.projects),
    ]
    return _group("AND", [condition for condition in conditions if condition])


def _stamp(moment: datetime) -> str:
    return f"{moment:%Y%m%d-%H%M}"


def _any_of(path: str, values: Sequence[str]) -> str:
    """``path`` equal to one of ``values`` (``""`` for none)."""
    return _group("OR", [f"{path}/EQ/{quote(value, safe='')}" for value in values])


def _group(operator: str, expressions: Sequence[str]) -> str:
    """``expressions`` joined by ``operator`` (``AND``/``OR``); one expression stands alone, none is ``""``."""
    if len(expressions) <= 1:
        return "".join(expressions)
    return "/".join([operator, *expressions, "CLOSE"])


def booking_ids(connection: CalpendoConnection, query: str) -> list[str]:
    """The IDs of the bookings matching ``query``, in Calpendo's order."""
    answer = connection.get_json("querying bookings", f"/q/{BOOKING_TYPE}/{query}")
    biskits = answer.get("biskits") if isinstance(answer, dict) else None
    if not isinstance(biskits, list) or not all(isinstance(b, dict) and _is_id(b.get("id")) for b in biskits):
        raise connection.error("querying bookings: the answer is not {\"biskits\": [{\"id\": ...}, ...]}")
    return [str(b["id"]) for b in biskits]


def _is_id(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, str) and value.isdigit())


def booking(connection: CalpendoConnection, booking_id: str) -> dict[str, Any] | None:
    """One booking's details, or ``None`` when it was deleted since the query."""
    what = f"reading booking {booking_id}"
    answer = connection.get_json(what, f"/b/{BOOKING_TYPE}/{booking_id}", missing_ok=True)
    if answer is not None and not isinstance(answer, dict):
        raise connection.error(f"{what}: the answer is not a JSON object")
    return answer


def mri_operator(connection: CalpendoConnection, booking_id: str) -> str | None:
    """The operator of an MRI booking, or ``None`` when Calpendo names none."""
    answer = connection.get_json(
        f"reading the operator of booking {booking_id}",
        f"/q/{MRI_BOOKING_TYPE}/id/EQ/{booking_id}",
        params={"paths": "Operator.name"},
        missing_ok=True,
    )
    biskits = answer.get("biskits") if isinstance(answer, dict) else None
    first = biskits[0] if isinstance(biskits, list) and biskits and isinstance(biskits[0], dict) else {}
    properties = first.get("properties")
    operator = properties.get("Operator") if isinstance(properties, dict) else None
    name = operator.get("name") if isinstance(operator, dict) else None
    return name if isinstance(name, str) and name.strip() else None
