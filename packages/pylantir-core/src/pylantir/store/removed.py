"""The record of worklist entries that housekeeping removed (:class:`~pylantir.store.models.RemovedEntry`).

Housekeeping records each entry it removes; the sync writer asks which new rows were removed before, so
that a source that still returns an entry (a REDCap project keeps every record) does not bring it back.
An entry comes back only when its source now schedules it later than it was when removed (rescheduled).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from pylantir.store.models import RemovedEntry


def identity_digest(identity: str) -> str:
    """How a removed entry's identity is kept: SHA-256, hex (an identity may hold an accession number)."""
    return hashlib.sha256(identity.encode()).hexdigest()


def any_removed(session: Session) -> bool:
    """Whether housekeeping has removed any entry that is still on record."""
    return session.execute(select(RemovedEntry.identity_digest).limit(1)).first() is not None


def record_removed(session: Session, entries: Iterable[tuple[str, str, str]], now: datetime) -> None:
    """Record removed entries, given as (identity, source name, scheduled start); a newer record replaces one."""
    rows = {identity_digest(identity): {"identity_digest": identity_digest(identity), "source_name": source,
                                        "scheduled_start": start, "removed_at": now}
            for identity, source, start in entries}
    if rows:
        session.execute(delete(RemovedEntry).where(RemovedEntry.identity_digest.in_(rows)))
        session.execute(insert(RemovedEntry), list(rows.values()))


def still_removed(session: Session, entries: Sequence[tuple[str, str]]) -> set[str]:
    """The identities among ``entries`` (identity, scheduled start) that housekeeping removed and whose
    start is not later than it was then: a sync must not add them again."""
    wanted = {identity_digest(identity): (identity, start) for identity, start in entries}
    removed = session.execute(
        select(RemovedEntry.identity_digest, RemovedEntry.scheduled_start)
        .where(RemovedEntry.identity_digest.in_(wanted))
    )
    return {wanted[digest][0] for digest, start in removed if wanted[digest][1] <= start}
