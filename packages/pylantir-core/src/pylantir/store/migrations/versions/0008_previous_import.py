"""The import of the previous Pylantir's worklist: what was imported, and the entries awaiting their source.

- ``previous_imports``: one row once the rows of ``legacy_worklist_items`` (the previous Pylantir's
  table, kept by 0001) were imported, with the counts ``pylantir db info`` shows;
- ``previous_entries``: imported entries the next sync of their source recognises by ``match``.

The import itself needs the configuration (which source each row belongs to) and the plugins, so it
runs after the migrations (``pylantir.previous_import``), not in them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create both tables."""
    op.create_table(
        "previous_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("legacy_table", sa.String(64), nullable=False),
        sa.Column("found", sa.Integer(), nullable=False),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_previous_imports"),
    )
    op.create_table(
        "previous_entries",
        sa.Column("worklist_item_id", sa.Integer(), nullable=False),
        sa.Column("source_name", sa.String(64), nullable=False),
        sa.Column("match", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["worklist_item_id"], ["worklist_items.id"], ondelete="CASCADE",
                                name="fk_previous_entries_worklist_item_id_worklist_items"),
        sa.PrimaryKeyConstraint("worklist_item_id", name="pk_previous_entries"),
    )
    op.create_index("ix_previous_entries_source_name", "previous_entries", ["source_name"])


def downgrade() -> None:
    """Drop them (imported worklist entries stay)."""
    op.drop_index("ix_previous_entries_source_name", table_name="previous_entries")
    op.drop_table("previous_entries")
    op.drop_table("previous_imports")
