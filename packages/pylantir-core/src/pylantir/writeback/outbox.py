"""The write-back outbox in the database: recording changes, reading what is due, storing outcomes, counts.

A change is recorded by :func:`record_changes` in the MPPS handler's own session, so it commits (or rolls
back) with the MPPS state it comes from. Recording a change supersedes the entry's pending ones: each change
carries the entry's whole current state, so only the newest is ever written, and an older state can never
be written after a newer one. Everything here is plain SQL on :class:`~pylantir.store.WriteBackChange`; the
delivery itself is :mod:`pylantir.writeback.delivery`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from pydicom import Dataset
from pydicom.valuerep import DA, TM
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from pylantir.contract import StepChange
from pylantir.store import Database, WorklistItem, WriteBackChange
from pylantir.store.models import utcnow
from pylantir.sync.clock import as_utc

PENDING, DONE, SUPERSEDED, FAILED = "pending", "done", "superseded", "failed"
STATES = (PENDING, DONE, SUPERSEDED, FAILED)
#: The key of :attr:`WriteBackChange.change` holding when a person last retried a failed change (ISO 8601;
#: :mod:`pylantir.writeback.admin`). Not handed to the plugin.
RETRIED_AT = "retried_at"

#: MPPS keywords copied into :attr:`StepChange.attributes` when present.
ATTRIBUTE_KEYWORDS = (
    "PerformedStationAETitle", "PerformedStationName", "PerformedLocation", "PerformedProcedureStepID",
    "PerformedProcedureStepDescription", "Modality",
)


def _moment(dataset: Dataset, date_keyword: str, time_keyword: str) -> str | None:
    """``date_keyword`` + ``time_keyword`` as an ISO date-time (naive: the modality's clock), else ``None``."""
    day, clock = str(dataset.get(date_keyword) or "").strip(), str(dataset.get(time_keyword) or "").strip()
    if not day:
        return None
    try:
        combined = datetime.combine(DA(day), TM(clock or "000000"))
    except (TypeError, ValueError):
        return None
    return combined.isoformat()


def _attributes(dataset: Dataset, item: WorklistItem, mpps_uid: str) -> dict[str, str]:
    found = {keyword: str(dataset.get(keyword)).strip() for keyword in ATTRIBUTE_KEYWORDS if dataset.get(keyword)}
    found.update(SOPInstanceUID=mpps_uid, StudyInstanceUID=item.study_instance_uid)
    if item.accession_number:
        found["AccessionNumber"] = item.accession_number
    if "PerformedSeriesSequence" in dataset:
        found["PerformedSeriesCount"] = str(len(dataset.PerformedSeriesSequence))
    reason = dataset.get("PerformedProcedureStepDiscontinuationReasonCodeSequence")
    if reason and reason[0].get("CodeMeaning"):
        found["DiscontinuationReason"] = str(reason[0].CodeMeaning)
    return found


def record_changes(
    session: Session,
    items: Iterable[WorklistItem],
    dataset: Dataset,
    performed_status: str,
    status: str,
    mpps_uid: str,
    sources: frozenset[str],
) -> int:
    """Record the change of each of ``items`` whose source is in ``sources`` (those that write back), in
    ``session``; the entry's pending changes are superseded. Returns how many were recorded."""
    recorded = 0
    now = utcnow()
    for item in items:
        if item.source_name not in sources:
            continue
        session.execute(
            update(WriteBackChange)
            .where(WriteBackChange.identity == item.identity, WriteBackChange.state == PENDING)
            .values(state=SUPERSEDED, finished_at=now)
        )
        change = {
            "key": json.loads(item.source_record_key) if item.source_record_key else None,
            "location": item.source_key,
            "status": status,
            "performed_status": performed_status,
            "started_at": _moment(dataset, "PerformedProcedureStepStartDate", "PerformedProcedureStepStartTime"),
            "ended_at": _moment(dataset, "PerformedProcedureStepEndDate", "PerformedProcedureStepEndTime"),
            "attributes": _attributes(dataset, item, mpps_uid),
        }
        session.add(WriteBackChange(
            source_name=item.source_name, identity=item.identity, mpps_uid=mpps_uid, change=change,
            state=PENDING, attempts=0, recorded_at=now, next_attempt_at=now,
        ))
        recorded += 1
    return recorded


@dataclass(frozen=True)
class WriteBackRecorder:
    """What the MPPS functions need for write-back: which sources write back, and whom to tell of a change.

    :ivar sources: names of the sources whose entries' changes are recorded.
    :ivar notify: called once a transaction that recorded changes has committed (wakes the worker).
    """

    sources: frozenset[str]
    notify: Callable[[], None] | None = None

    def record(self, session: Session, items: Iterable[WorklistItem], dataset: Dataset, performed_status: str,
               status: str, mpps_uid: str) -> int:
        """:func:`record_changes` for these sources, in ``session``; how many were recorded."""
        return record_changes(session, items, dataset, performed_status, status, mpps_uid, self.sources)

    def committed(self, recorded: int) -> None:
        """The transaction that recorded ``recorded`` changes committed."""
        if recorded and self.notify is not None:
            self.notify()


def step_change(row: WriteBackChange) -> StepChange:
    """What the plugin is handed for one outbox row."""
    change = row.change

    def moment(name: str) -> datetime | None:
        return datetime.fromisoformat(change[name]) if change.get(name) else None

    return StepChange(
        change_id=row.id, source_name=row.source_name, key=change.get("key"), location=change.get("location"),
        identity=row.identity, status=change["status"], performed_status=change["performed_status"],
        started_at=moment("started_at"), ended_at=moment("ended_at"), recorded_at=row.recorded_at,
        attributes=dict(change.get("attributes") or {}),
    )


def attempts_since(row: WriteBackChange) -> datetime:
    """Since when the change has been tried: recorded, or last retried by a person (what giving up counts from)."""
    retried = row.change.get(RETRIED_AT)
    return datetime.fromisoformat(retried) if retried else as_utc(row.recorded_at)


def due_changes(session: Session, source_name: str, now: datetime, limit: int) -> list[WriteBackChange]:
    """The source's pending changes whose attempt is due, oldest first."""
    return list(session.scalars(
        select(WriteBackChange)
        .where(WriteBackChange.source_name == source_name, WriteBackChange.state == PENDING,
               WriteBackChange.next_attempt_at <= now)
        .order_by(WriteBackChange.id)
        .limit(limit)
    ))


def newest_of_each_entry(session: Session, rows: list[WriteBackChange], now: datetime) -> list[WriteBackChange]:
    """``rows`` (oldest first) less the older ones of an entry that has several, marked superseded in ``session``.

    Recording a change supersedes the entry's pending ones, so an entry has two pending changes only when a
    failed one was retried while a newer one was being recorded: only the newest is written.
    """
    newest = {row.identity: row for row in rows}
    older = [row.id for row in rows if newest[row.identity] is not row]
    if older:
        session.execute(
            update(WriteBackChange).where(WriteBackChange.id.in_(older), WriteBackChange.state == PENDING)
            .values(state=SUPERSEDED, finished_at=now)
        )
    return [row for row in rows if newest[row.identity] is row]


def next_due(session: Session, source_names: Sequence[str]) -> datetime | None:
    """When the earliest pending change of these sources is due (``None``: nothing pending)."""
    if not source_names:
        return None
    return session.scalar(
        select(func.min(WriteBackChange.next_attempt_at))
        .where(WriteBackChange.state == PENDING, WriteBackChange.source_name.in_(source_names))
    )


def finish(session: Session, change_id: int, state: str, now: datetime, error: str | None = None) -> None:
    """Mark a pending change ``done`` or ``failed`` (a change superseded meanwhile stays superseded)."""
    session.execute(
        update(WriteBackChange)
        .where(WriteBackChange.id == change_id, WriteBackChange.state == PENDING)
        .values(state=state, finished_at=now, last_error=error, attempts=WriteBackChange.attempts + 1)
    )


def postpone(session: Session, change_id: int, until: datetime, error: str) -> None:
    """Count a failed attempt of a pending change and schedule the next one."""
    session.execute(
        update(WriteBackChange)
        .where(WriteBackChange.id == change_id, WriteBackChange.state == PENDING)
        .values(next_attempt_at=until, last_error=error, attempts=WriteBackChange.attempts + 1)
    )


def due_now(session: Session, source_name: str, now: datetime) -> None:
    """Make the source's postponed changes due now (it answers again: no need to wait out their back-off)."""
    session.execute(
        update(WriteBackChange)
        .where(WriteBackChange.source_name == source_name, WriteBackChange.state == PENDING,
               WriteBackChange.next_attempt_at > now)
        .values(next_attempt_at=now)
    )


@dataclass
class WriteBackCounts:
    """The outbox of one source: changes per state, the oldest pending one, the latest failure."""

    pending: int = 0
    done: int = 0
    superseded: int = 0
    failed: int = 0
    oldest_pending: datetime | None = None
    last_failure: str | None = None
    last_failure_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        """JSON-ready (times as ISO 8601)."""
        return {name: value.isoformat(timespec="seconds") if isinstance(value, datetime) else value
                for name, value in asdict(self).items()}


def write_back_counts(database: Database, source_names: Sequence[str]) -> dict[str, WriteBackCounts]:
    """The outbox of each named source (every name gets an entry; all zero when it has none).

    What ``pylantir sources status``, the HTTP API and ``/metrics`` show.
    """
    counts = {name: WriteBackCounts() for name in source_names}
    if not counts:
        return counts
    rows = WriteBackChange
    with database.session() as session:
        grouped = session.execute(
            select(rows.source_name, rows.state, func.count(), func.min(rows.recorded_at))
            .where(rows.source_name.in_(counts))
            .group_by(rows.source_name, rows.state)
        )
        for name, state, count, oldest in grouped:
            entry = counts[name]
            if state in STATES:
                setattr(entry, state, int(count))
            if state == PENDING and oldest is not None:
                entry.oldest_pending = as_utc(oldest)
        latest_failures = (
            select(func.max(rows.id)).where(rows.source_name.in_(counts), rows.state == FAILED)
            .group_by(rows.source_name)
        )
        for row in session.scalars(select(rows).where(rows.id.in_(latest_failures))):
            entry = counts[row.source_name]
            entry.last_failure = row.last_error
            entry.last_failure_at = as_utc(row.finished_at) if row.finished_at else None
    return counts

