"""Whether this instance can do its job (``/ready``): the reasons it cannot, each one sentence.

- the database does not answer ``SELECT 1``;
- the DICOM server of this process is not listening;
- an enabled source has not synced successfully within :data:`STALE_INTERVALS` of its intervals (counted
  from its last success, or from the service's start for a source that never synced, and only while its
  operation window was open: a source whose window is closed at night does not make the instance unready).

The stored source state is read, so an instance that does not sync itself (``--no-sync``, another instance
syncing) judges the sources by what the syncing instance stored.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from pylantir.config import DataSourceSettings
from pylantir.http.services import Services
from pylantir.store import SourceState
from pylantir.sync.clock import as_utc
from pylantir.sync.scheduler import in_window

STALE_INTERVALS = 3


def _database_problem(services: Services) -> str | None:
    try:
        with services.database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        # the driver's message may name the host, never the password; keep only its first line
        first_line = str(getattr(exc, "orig", exc)).strip().splitlines()[0:1]
        return f"database unreachable ({services.database.safe_url()}): {' '.join(first_line) or type(exc).__name__}"
    return None


def _dicom_problem(services: Services) -> str | None:
    if services.dicom is None:
        return "this process serves no DICOM"
    if not services.dicom.listening():
        return f"DICOM port {services.dicom.host}:{services.dicom.port} is not bound"
    return None


def _window_open_throughout(source: DataSourceSettings, start: datetime, end: datetime, zone: ZoneInfo) -> bool:
    """Whether the source's operation window was open at both ends of ``[start, end]`` (and so, for windows of
    a few hours and intervals of minutes, in between)."""
    return in_window(source.operation_interval, start.astimezone(zone)) and in_window(
        source.operation_interval, end.astimezone(zone)
    )


def stale_sources(services: Services, now: datetime) -> list[str]:
    """One sentence per enabled source that has not synced successfully within its last 3 intervals."""
    sources = services.config.enabled_sources()
    if not sources:
        return []
    with services.database.session() as session:
        states = {
            state.source_name: state
            for state in session.scalars(
                select(SourceState).where(SourceState.source_name.in_([source.name for source in sources]))
            )
        }
    zone = ZoneInfo(services.config.timezone)
    problems = []
    for source in sources:
        state = states.get(source.name)
        last_success = as_utc(state.last_success_at) if state and state.last_success_at else None
        since = last_success or services.started_at
        allowed = timedelta(seconds=STALE_INTERVALS * source.sync_interval)
        if now - since <= allowed or not _window_open_throughout(source, now - allowed, now, zone):
            continue
        when = f"last success {last_success.isoformat(timespec='seconds')}" if last_success else "never synced"
        problems.append(f"source '{source.name}' has not synced successfully within {STALE_INTERVALS} intervals "
                        f"({STALE_INTERVALS * source.sync_interval:g} s; {when})")
    return problems


def readiness_problems(services: Services) -> list[str]:
    """Every reason this instance is not ready (empty: ready)."""
    database = _database_problem(services)
    problems = [problem for problem in (database, _dicom_problem(services)) if problem]
    if database is None:
        problems += stale_sources(services, services.clock.now())
    return problems
