"""Read-side query helpers over the store: worklist listing, the rows a worklist answer reads, per-table
row counts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Row, Select, func, inspect, select, table
from sqlalchemy.orm import Session

from pylantir.store.catalogue import BY_COLUMN, EXTRA_COLUMNS
from pylantir.store.models import Base, PreviousEntry, PreviousImport, WorklistItem

#: The previous Pylantir's worklist table, as migration 0001 keeps it.
LEGACY_TABLE = "legacy_worklist_items"


@dataclass(frozen=True)
class WorklistFilter:
    """What ``pylantir worklist list`` filters on; ``None`` means "any".

    Dates are ``YYYYMMDD`` and inclusive; a range may be open on either side.
    """

    date_from: str | None = None
    date_to: str | None = None
    modality: str | None = None
    source: str | None = None
    status: str | None = None


def list_worklist(session: Session, criteria: WorklistFilter) -> Sequence[WorklistItem]:
    """Worklist items matching ``criteria``, by scheduled start; filtered in SQL through the indexes."""
    query = select(WorklistItem).order_by(WorklistItem.scheduled_start, WorklistItem.id)
    if criteria.date_from:
        query = query.where(WorklistItem.scheduled_start >= criteria.date_from)
    if criteria.date_to:
        # digits only, so the comparison means the same under every collation (PostgreSQL locales)
        query = query.where(WorklistItem.scheduled_start < _next_day(criteria.date_to))
    if criteria.modality:
        query = query.where(WorklistItem.modality == criteria.modality.upper())
    if criteria.source:
        query = query.where(WorklistItem.source_name == criteria.source)
    if criteria.status:
        query = query.where(WorklistItem.scheduled_procedure_step_status == criteria.status.upper())
    return session.scalars(query).all()


#: The columns a worklist answer (C-FIND, DICOMweb search) reads, in this order: the id and source that name
#: an item left out of an answer, the start the fallbacks read, every catalogue column and the extras.
ANSWER_COLUMNS: tuple[str, ...] = ("id", "source_name", "scheduled_start", *BY_COLUMN, *EXTRA_COLUMNS.values())


def answer_rows(session: Session, statement: Select[Any], yield_per: int) -> Iterator[Row[Any]]:
    """The items ``statement`` (a select of ``WorklistItem``) selects, in its order, as rows of
    :data:`ANSWER_COLUMNS` (by index or by column name), ``yield_per`` rows fetched at a time.

    Plain rows of the needed columns, not ORM objects: no identity map, no attribute instrumentation, no
    lineage timestamps parsed (what the ORM spent most of a large answer's fetch on).
    """
    columns = [WorklistItem.__table__.c[name] for name in ANSWER_COLUMNS]
    return iter(session.execute(statement.with_only_columns(*columns).execution_options(yield_per=yield_per)))


def _next_day(day: str) -> str:
    return (datetime.strptime(day, "%Y%m%d") + timedelta(days=1)).strftime("%Y%m%d")


def row_counts(engine: Engine) -> dict[str, int | None]:
    """Rows per table: Pylantir's (``None`` when missing), then others (e.g. ``legacy_worklist_items``)."""
    existing = set(inspect(engine).get_table_names()) - {"alembic_version"}
    ours = [table.name for table in Base.metadata.sorted_tables]
    others = sorted(existing - set(ours))
    with engine.connect() as connection:
        return {
            name: connection.scalar(select(func.count()).select_from(table(name))) if name in existing else None
            for name in ours + others
        }


def previous_import_state(engine: Engine) -> str | None:
    """What became of the previous Pylantir's worklist (``None`` when the database never had one)."""
    tables = set(inspect(engine).get_table_names())
    if LEGACY_TABLE not in tables:
        return None
    if PreviousImport.__tablename__ not in tables:
        return f"its worklist is in {LEGACY_TABLE}, not imported yet (run 'pylantir db upgrade')"
    with Session(engine) as session:
        done = session.scalars(select(PreviousImport).order_by(PreviousImport.id).limit(1)).first()
        if done is None:
            return f"its worklist is in {LEGACY_TABLE}, not imported yet (run 'pylantir db upgrade')"
        awaiting = session.scalar(select(func.count()).select_from(PreviousEntry)) or 0
    sources = ", ".join(f"{name} {count}" for name, count in sorted(done.counts.get("imported", {}).items()))
    left = "; ".join(f"{count} {reason}" for reason, count in sorted(done.counts.get("left", {}).items()))
    return (f"imported {done.imported} of the {done.found} rows of {done.legacy_table} on "
            f"{done.imported_at:%Y-%m-%d %H:%M} UTC ({sources or 'none'}); {awaiting} awaiting their source's "
            f"next sync" + (f"; not imported: {left}" if left else ""))
