"""Drop indexes no query uses; every sync pays for them on each inserted row.

- ``worklist_items`` ``modality``, ``scheduled_station_aetitle``, ``performed_procedure_step_status``: few
  distinct values, so C-FIND deliberately matches them without an index (it narrows by the indexed
  ``scheduled_start`` or an ID first) and ``pylantir worklist list`` gains nothing from them;
- ``ix_worklist_start_modality_station``: its useful prefix is ``ix_worklist_items_scheduled_start``, which
  also gives the ``ORDER BY scheduled_start, id`` of both readers;
- ``ix_sync_runs_source_name``: ``ix_sync_runs_source_started`` (source, start time) serves the same lookups.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: (index, table, columns) of every index this revision drops; the downgrade recreates them.
DROPPED = (
    ("ix_worklist_items_modality", "worklist_items", ["modality"]),
    ("ix_worklist_items_scheduled_station_aetitle", "worklist_items", ["scheduled_station_aetitle"]),
    ("ix_worklist_items_performed_procedure_step_status", "worklist_items", ["performed_procedure_step_status"]),
    ("ix_worklist_start_modality_station", "worklist_items",
     ["scheduled_start", "modality", "scheduled_station_aetitle"]),
    ("ix_sync_runs_source_name", "sync_runs", ["source_name"]),
)


def upgrade() -> None:
    """Drop the unused indexes (no rows change)."""
    for name, table, _columns in DROPPED:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    """Recreate them."""
    for name, table, columns in reversed(DROPPED):
        op.create_index(name, table, columns)
