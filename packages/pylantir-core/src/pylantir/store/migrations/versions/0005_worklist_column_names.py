"""Worklist column names say what they hold; ``last_seen_at`` goes (rows kept).

- ``performed_procedure_step_status`` -> ``scheduled_procedure_step_status``: it holds the Scheduled
  Procedure Step Status (0040,0020), which MPPS updates, not an MPPS status;
- ``study_description`` -> ``requested_procedure_description``: it holds the Requested Procedure
  Description (0032,1060), not the Study Description (0008,1030);
- ``last_seen_at`` is dropped: it was written only when a row changed (an unchanged row is not written at
  all), so it equalled ``updated_at``, and nothing read it;
- ``ix_worklist_start_modality_station_status`` is recreated on the renamed status column.

Both engines rename and drop in place (``ALTER TABLE ... RENAME COLUMN`` / ``DROP COLUMN``: SQLite 3.35 or
newer), so the table is not copied and the MPPS instances' links to worklist rows stay as they are.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlite3

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

INDEX = "ix_worklist_start_modality_station_status"
#: (old name, new name) of each renamed column.
RENAMED = (
    ("performed_procedure_step_status", "scheduled_procedure_step_status"),
    ("study_description", "requested_procedure_description"),
)
INDEXED = ["scheduled_start", "modality", "scheduled_station_aetitle"]
SQLITE_DROP_COLUMN = (3, 35, 0)


def _check_sqlite() -> None:
    if op.get_bind().dialect.name == "sqlite" and sqlite3.sqlite_version_info < SQLITE_DROP_COLUMN:
        raise RuntimeError(
            f"this schema upgrade needs SQLite 3.35 or newer (ALTER TABLE ... DROP COLUMN); this Python has "
            f"SQLite {sqlite3.sqlite_version}: use a Python built with a newer SQLite"
        )


def upgrade() -> None:
    """Rename the two columns, drop ``last_seen_at``, recreate the broad-query index."""
    _check_sqlite()
    op.drop_index(INDEX, table_name="worklist_items")
    for old, new in RENAMED:
        op.execute(f"ALTER TABLE worklist_items RENAME COLUMN {old} TO {new}")
    op.execute("ALTER TABLE worklist_items DROP COLUMN last_seen_at")
    op.create_index(INDEX, "worklist_items", [*INDEXED, "scheduled_procedure_step_status"])


def downgrade() -> None:
    """The previous names, and ``last_seen_at`` again, filled from ``updated_at`` (left nullable: no copy)."""
    op.drop_index(INDEX, table_name="worklist_items")
    for old, new in RENAMED:
        op.execute(f"ALTER TABLE worklist_items RENAME COLUMN {new} TO {old}")
    op.execute("ALTER TABLE worklist_items ADD COLUMN last_seen_at TIMESTAMP WITH TIME ZONE")
    op.execute("UPDATE worklist_items SET last_seen_at = updated_at")
    op.create_index(INDEX, "worklist_items", [*INDEXED, "performed_procedure_step_status"])
