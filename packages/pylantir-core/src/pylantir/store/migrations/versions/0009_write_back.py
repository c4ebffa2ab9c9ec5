"""Performed-step write-back: the outbox of changes, and each entry's identity in its source.

- ``write_back_changes``: MPPS changes of entries whose source writes back, recorded with the MPPS state and
  delivered by ``pylantir run`` (``pylantir.writeback``);
- ``worklist_items.source_record_key``: the entry's identity as its plugin knows it (``Record.key``). Every
  stored row's content hash is cleared, so that each source's next sync rewrites its rows once and records
  their keys (an unchanged record is otherwise not written again).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the table and the column; clear the content hashes."""
    op.create_table(
        "write_back_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_name", sa.String(64), nullable=False),
        sa.Column("identity", sa.String(128), nullable=False),
        sa.Column("mpps_uid", sa.String(64), nullable=False),
        sa.Column("change", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_write_back_changes"),
    )
    op.create_index("ix_write_back_changes_state_due", "write_back_changes", ["state", "next_attempt_at"])
    op.create_index("ix_write_back_changes_identity", "write_back_changes", ["identity", "state"])
    op.create_index("ix_write_back_changes_source_state", "write_back_changes", ["source_name", "state"])
    op.add_column("worklist_items", sa.Column("source_record_key", sa.Text(), nullable=True))
    op.execute(sa.text("UPDATE worklist_items SET content_hash = ''"))


def downgrade() -> None:
    """Drop them (the next sync recomputes the content hashes)."""
    with op.batch_alter_table("worklist_items") as batch:
        batch.drop_column("source_record_key")
    op.drop_index("ix_write_back_changes_source_state", table_name="write_back_changes")
    op.drop_index("ix_write_back_changes_identity", table_name="write_back_changes")
    op.drop_index("ix_write_back_changes_state_due", table_name="write_back_changes")
    op.drop_table("write_back_changes")
