"""Lineage of worklist rows and of who runs a sync.

- ``worklist_items.created_run_id`` / ``updated_run_id``: the sync runs that inserted a row and last
  really changed it (foreign keys to ``sync_runs``, ``ON DELETE SET NULL``); NULL for existing rows;
- ``sync_runs.host`` / ``pid`` / ``process_started_at``: the process running a sync, so that a run left
  ``running`` by a process that died can be closed as ``interrupted`` by the next start.

On SQLite the worklist table is copied (the only way to add a foreign key there); the MPPS instances'
links to worklist rows, which dropping the old copy would clear, are restored.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pylantir.store.migrations.worklist_copy import copied_worklist_table

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

LINEAGE = ("created_run_id", "updated_run_id")
RUNNER = (("host", sa.String(255)), ("pid", sa.Integer()), ("process_started_at", sa.DateTime(timezone=True)))


def _foreign_key(name: str) -> sa.ForeignKey:
    return sa.ForeignKey("sync_runs.id", ondelete="SET NULL", name=f"fk_worklist_items_{name}_sync_runs")


def upgrade() -> None:
    """Add the columns (every existing row gets NULL)."""
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a foreign key only by copying the table (Alembic's batch mode), links kept
        with copied_worklist_table() as batch:
            for name in LINEAGE:
                batch.add_column(sa.Column(name, sa.Integer(), _foreign_key(name), nullable=True))
    else:
        for name in LINEAGE:
            op.add_column("worklist_items", sa.Column(name, sa.Integer(), _foreign_key(name), nullable=True))
    for name, column_type in RUNNER:
        op.add_column("sync_runs", sa.Column(name, column_type))


def downgrade() -> None:
    """Drop them (on SQLite through a table copy: Alembic's batch mode)."""
    with op.batch_alter_table("sync_runs") as batch:
        for name, _ in RUNNER:
            batch.drop_column(name)
    with op.batch_alter_table("worklist_items") as batch:
        for name in LINEAGE:
            if op.get_bind().dialect.name != "sqlite":
                batch.drop_constraint(f"fk_worklist_items_{name}_sync_runs", type_="foreignkey")
            batch.drop_column(name)
