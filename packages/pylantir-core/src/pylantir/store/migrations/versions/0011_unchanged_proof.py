"""The proof a clean complete sync leaves for the next one: ``source_states.unchanged_proof``.

A JSON object (the source's content key, a fingerprint of its stored rows, the run's counts; see
``pylantir.sync.unchanged``) or NULL. NULL everywhere after the upgrade: each source's next sync fetches
as before and stores its proof.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the column."""
    op.add_column("source_states", sa.Column("unchanged_proof", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop the column."""
    with op.batch_alter_table("source_states") as batch:
        batch.drop_column("unchanged_proof")
