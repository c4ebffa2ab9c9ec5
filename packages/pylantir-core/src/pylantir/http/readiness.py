"""Whether this instance can do its job (``/ready``): the reasons it cannot, each one sentence.

- the database does not answer ``SELECT 1``;
- the DICOM server of this process is not listening;
- an enabled source is stale (:func:`pylantir.sync.status.staleness`: no successful sync within 3 of its
  intervals while its operation window was open; a source that never synced is judged from the service's start).

The stored source state is read, so an instance that does not sync itself (``--no-sync``, another instance
syncing) judges the sources by what the syncing instance stored.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from pylantir.http.services import Services
from pylantir.store import SourceState
from pylantir.sync.clock import as_utc
from pylantir.sync.status import staleness


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
    if services.dicom is None:  # an HTTP-only process (pylantir start-api)
        return None
    if not services.dicom.listening():
        return f"DICOM port {services.dicom.host}:{services.dicom.port} is not bound"
    return None


def stale_sources(services: Services, now: datetime) -> list[str]:
    """One sentence per enabled source that has not synced successfully within its last 3 intervals."""
    sources = services.config.enabled_sources()
    if not sources:
        return []
    with services.database.session() as session:
        last_success = {
            state.source_name: as_utc(state.last_success_at)
            for state in session.scalars(
                select(SourceState).where(SourceState.source_name.in_([source.name for source in sources]))
            )
            if state.last_success_at is not None
        }
    reasons = (staleness(source, last_success.get(source.name), services.started_at, now, services.config.timezone)
               for source in sources)
    return [reason for reason in reasons if reason]


def readiness_problems(services: Services) -> list[str]:
    """Every reason this instance is not ready (empty: ready)."""
    database = _database_problem(services)
    problems = [problem for problem in (database, _dicom_problem(services)) if problem]
    if database is None:
        problems += stale_sources(services, services.clock.now())
    return problems
