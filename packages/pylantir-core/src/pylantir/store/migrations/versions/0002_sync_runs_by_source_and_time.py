"""Index sync runs by source and start time (the latest runs of a source, without a full scan).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``ix_sync_runs_source_started``."""
    op.create_index("ix_sync_runs_source_started", "sync_runs", ["source_name", "started_at"])


def downgrade() -> None:
    """Drop ``ix_sync_runs_source_started``."""
    op.drop_index("ix_sync_runs_source_started", table_name="sync_runs")
