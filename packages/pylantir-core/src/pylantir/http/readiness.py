"""Whether this instance can do its job (``/ready``): the reasons it cannot, each one sentence.

- the database does not answer ``SELECT 1``;
- the DICOM server of this process is not listening;
- this process syncs, and its sync worker process is not running (it ended and is being replaced);
- an enabled source is stale (:func:`pylantir.sync.status.staleness`: no successful sync within 3 of its
  intervals while its operation window was open; a source that never synced is judged from the service's start).

Staleness is about a source's last successful sync *by any instance*: the stored source state is read, so
an instance that does not sync a source itself (``--no-sync``, or a follower while another instance leads it)
judges it by what the leader stored, and a follower is ready while the leader keeps its sources fresh.

:func:`instance_role` is the rest of the body: whether this instance is alone on its database (SQLite) or
one of several on PostgreSQL, and which enabled sources it leads and which it follows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from pylantir.http.services import Services
from pylantir.store import SourceState
from pylantir.sync.clock import as_utc
from pylantir.sync.lineage import instance_name, this_process
from pylantir.sync.status import staleness

#: ``role.deployment`` of ``/ready``: one instance per SQLite file, or instances sharing a PostgreSQL database.
Deployment = Literal["single-instance", "shared-database"]


class Role(BaseModel):
    """This instance's part in the deployment (``/ready``'s ``role``)."""

    #: ``single-instance`` (SQLite: the one ``pylantir run`` on the file) or ``shared-database`` (PostgreSQL).
    deployment: Deployment
    #: This process, as the API's ``leadership.instance`` names it: ``pid N on HOST``.
    instance: str
    #: Whether this process runs syncs at all (``false``: ``--no-sync`` or ``pylantir start-api``).
    syncs: bool
    #: The enabled sources this instance leads (syncs), in configuration order.
    leads: list[str]
    #: The enabled sources another instance leads, or none does right now (this one serves their entries).
    follows: list[str]


def led_sources(services: Services) -> set[str]:
    """The sources this instance leads (syncs) now, from its own leadership (no database query); none when it
    does not sync."""
    leadership = services.leadership
    return set(leadership.led()) if leadership is not None else set()


def instance_role(services: Services) -> Role:
    """Which enabled sources this instance leads and follows, from its own leadership (no database query)."""
    names = [source.name for source in services.config.enabled_sources()]
    led = led_sources(services)
    me = this_process()
    return Role(
        deployment="shared-database" if services.database.engine.dialect.name == "postgresql" else "single-instance",
        instance=instance_name(me.pid, me.host), syncs=services.sync is not None,
        leads=[name for name in names if name in led], follows=[name for name in names if name not in led],
    )


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
    sync = services.sync.problem() if services.sync is not None else None
    problems = [problem for problem in (database, _dicom_problem(services), sync) if problem]
    if database is None:
        problems += stale_sources(services, services.clock.now())
    return problems
