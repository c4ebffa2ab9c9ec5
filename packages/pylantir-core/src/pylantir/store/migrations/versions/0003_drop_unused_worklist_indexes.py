"""One index for the modalities' broad query instead of five; every sync pays for each index on each row.

- ``worklist_items`` ``modality``, ``scheduled_station_aetitle``, ``performed_procedure_step_status``: few
  distinct values, so an index on one of them alone would drive a query into scanning most of the table;
- ``ix_worklist_start_modality_station`` and ``ix_worklist_items_scheduled_start`` are replaced by
  ``ix_worklist_start_modality_station_status``: the start date-time range drives it, and modality,
  station AE title and status are checked in the index entries before a table row is read;
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
    ("ix_worklist_items_scheduled_start", "worklist_items", ["scheduled_start"]),
    ("ix_sync_runs_source_name", "sync_runs", ["source_name"]),
)
#: (index, table, columns) of the index that replaces them.
CREATED = (
    "ix_worklist_start_modality_station_status",
    "worklist_items",
    ["scheduled_start", "modality", "scheduled_station_aetitle", "performed_procedure_step_status"],
)


def upgrade() -> None:
    """Drop the single-purpose indexes, create the broad-query one (no rows change)."""
    for name, table, _columns in DROPPED:
        op.drop_index(name, table_name=table)
    op.create_index(*CREATED)


def downgrade() -> None:
    """Recreate them."""
    op.drop_index(CREATED[0], table_name=CREATED[1])
    for name, table, columns in reversed(DROPPED):
        op.create_index(name, table, columns)
