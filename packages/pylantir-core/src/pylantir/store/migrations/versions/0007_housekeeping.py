"""Housekeeping: the entries it removed, and indexes for deleting old sync runs.

- ``removed_entries``: a digest of each removed entry's identity, its source and scheduled start, so
  that a sync does not add back what housekeeping removed (``pylantir.housekeeping``);
- indexes on ``worklist_items.created_run_id`` / ``updated_run_id``: deleting a sync run sets them NULL
  (``ON DELETE SET NULL``), which without an index scans the worklist once per deleted run.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

LINEAGE = ("created_run_id", "updated_run_id")


def upgrade() -> None:
    """Create the table and the indexes (no table copy)."""
    op.create_table(
        "removed_entries",
        sa.Column("identity_digest", sa.String(64), nullable=False),
        sa.Column("source_name", sa.String(64), nullable=False),
        sa.Column("scheduled_start", sa.String(14), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("identity_digest", name="pk_removed_entries"),
    )
    op.create_index("ix_removed_entries_scheduled_start", "removed_entries", ["scheduled_start"])
    for name in LINEAGE:
        op.create_index(f"ix_worklist_items_{name}", "worklist_items", [name])


def downgrade() -> None:
    """Drop them."""
    for name in LINEAGE:
        op.drop_index(f"ix_worklist_items_{name}", table_name="worklist_items")
    op.drop_index("ix_removed_entries_scheduled_start", table_name="removed_entries")
    op.drop_table("removed_entries")
