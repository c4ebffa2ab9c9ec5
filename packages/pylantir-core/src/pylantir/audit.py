"""The audit trail: every write through the HTTP service and every account change, in ``audit_events``.

Callers record in the same transaction as the change, so a change is never stored without its record.
``changes`` maps each changed field to ``[old, new]``: never more than the row itself holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pylantir.store import AuditEvent


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    changes: dict[str, Any] | None = None,
    remote_address: str | None = None,
) -> AuditEvent:
    """Add one audit event to ``session``'s transaction (``actor`` e.g. ``user:alice``, ``cli:root``)."""
    event = AuditEvent(actor=actor, action=action, target=target, changes=changes, remote_address=remote_address)
    session.add(event)
    return event


def recent(session: Session, limit: int = 100, before_id: int | None = None) -> Sequence[AuditEvent]:
    """The newest events first, ``limit`` of them, older than event ``before_id`` when given (paging)."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    return session.scalars(query).all()
