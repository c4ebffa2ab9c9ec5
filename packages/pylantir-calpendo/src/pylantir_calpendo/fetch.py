"""One fetch of a ``calpendo`` source: the bookings in the window, their details, then records.

The booking query names the configured resources, statuses and projects and the window's dates; each
booking found is read (a few at a time), with its MRI operator for MRI bookings. A fetch is never
*complete* in the core's sense: bookings outside the window are not in it, so the core removes nothing
a fetch does not return (see docs/sources-calpendo.md for cancelled bookings).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from pylantir import FetchState, Record, Rejected
from pylantir_calpendo import api
from pylantir_calpendo.bookings import booking_record
from pylantir_calpendo.config import CalpendoConfig
from pylantir_calpendo.connection import CalpendoConnection
from pylantir_calpendo.window import fetch_windows

log = logging.getLogger("pylantir_calpendo")

#: Booking details read at the same time (the previous Pylantir used 5; Calpendo documents no limit).
PARALLEL_READS = 4


def fetch_bookings(source_name: str, cfg: CalpendoConfig, state: FetchState) -> Iterator[Record | Rejected]:
    """Yield one raw record (or located rejection) per booking starting in the source's window."""
    state.complete = False
    windows = fetch_windows(cfg, datetime.now(UTC))
    connection = CalpendoConnection(source_name, cfg)
    pool = ThreadPoolExecutor(PARALLEL_READS, thread_name_prefix="pylantir-calpendo")
    try:
        ids = api.booking_ids(connection, api.booking_query(cfg, windows))
        log.info("source %s: %d bookings start %s", source_name, len(ids), " or ".join(map(str, windows)))
        gone = 0
        for booking_id, details in zip(ids, pool.map(lambda i: _read(connection, cfg, i), ids), strict=True):
            if details is None:
                gone += 1
                continue
            booking, operator = details
            yield booking_record(cfg, booking, booking_id, operator)
        if gone:
            log.info("source %s: %d bookings were deleted while being read", source_name, gone)
    finally:
        pool.shutdown(cancel_futures=True)
        connection.close()


def _read(connection: CalpendoConnection, cfg: CalpendoConfig, booking_id: str) -> tuple[Any, str | None] | None:
    """A booking and its MRI operator, or ``None`` when it was deleted since the query."""
    booking = api.booking(connection, booking_id)
    if booking is None:
        return None
    wants_operator = cfg.mri_operator and booking.get("biskitType") == api.MRI_BOOKING_TYPE
    return booking, api.mri_operator(connection, booking_id) if wants_operator else None
