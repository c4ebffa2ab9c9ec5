"""Worklist column names say what they hold; ``last_seen_at`` goes (rows kept).

- ``performed_procedure_step_status`` -> ``scheduled_procedure_step_status``: it holds the Scheduled
  Procedure Step Status (0040,0020), which MPPS updates, not an MPPS status;
- ``study_description`` -> ``requested_procedure_description``: it holds the Requested Procedure
  Description (0032,1060), not the Study Description (0008,1030);
- ``last_seen_at`` is dropped: it was written only when a row changed (an unchanged row is not written at
  all), so it equalled ``updated_at``, and nothing read it;
- ``ix_worklist_start_modality_station_status`` is recreated on the renamed status column.

On SQLite the table is rebuilt (Alembic batch mode); on PostgreSQL the columns are renamed in place.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

INDEX = "ix_worklist_start_modality_station_status"
#: (old name, new name) of each renamed column.
RENAMED = (
    ("performed_procedure_step_status", "scheduled_procedure_step_status"),
    ("study_description", "requested_procedure_description"),
)
INDEXED = ["scheduled_start", "modality", "scheduled_station_aetitle"]


def upgrade() -> None:
    """Rename the two columns, drop ``last_seen_at``, recreate the broad-query index."""
    op.drop_index(INDEX, table_name="worklist_items")
    with op.batch_alter_table("worklist_items") as batch:
        for old, new in RENAMED:
            batch.alter_column(old, new_column_name=new)
        batch.drop_column("last_seen_at")
    op.create_index(INDEX, "worklist_items", [*INDEXED, "scheduled_procedure_step_status"])


def downgrade() -> None:
    """The previous names, and ``last_seen_at`` again (filled from ``updated_at``)."""
    op.drop_index(INDEX, table_name="worklist_items")
    with op.batch_alter_table("worklist_items") as batch:
        for old, new in RENAMED:
            batch.alter_column(new, new_column_name=old)
        batch.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE worklist_items SET last_seen_at = updated_at")
    with op.batch_alter_table("worklist_items") as batch:
        batch.alter_column("last_seen_at", existing_type=sa.DateTime(timezone=True), nullable=False)
    op.create_index(INDEX, "worklist_items", [*INDEXED, "performed_procedure_step_status"])
