"""Initial schema: worklist items, MPPS instances, sync runs, rejected rows, source state.

The previous Pylantir (no Alembic) kept its worklist in a ``worklist_items`` table of another layout.
A database that has one is not versioned yet, so it lands here: the old table is renamed
``legacy_worklist_items`` (rows kept, as a backup); ``pylantir.previous_import`` imports them after the upgrade.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

LEGACY_TABLE = "legacy_worklist_items"


def _keep_previous_pylantir_table() -> None:
    bind = op.get_bind()
    if "worklist_items" not in sa.inspect(bind).get_table_names():
        return
    op.rename_table("worklist_items", LEGACY_TABLE)
    logging.getLogger("pylantir.store").warning(
        "Found the previous Pylantir's worklist table: kept as %s; its rows are imported after the upgrade.",
        LEGACY_TABLE,
    )


def upgrade() -> None:
    """Create every table; keep a previous Pylantir's worklist table as ``legacy_worklist_items``."""
    _keep_previous_pylantir_table()
    op.create_table(
        "source_states",
        sa.Column("source_name", sa.String(length=64), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("plugin_state", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("source_name", name=op.f("pk_source_states")),
    )
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_name", sa.String(length=64), nullable=False),
        sa.Column("source_type", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("fetched", sa.Integer(), nullable=False),
        sa.Column("inserted", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    op.create_index(op.f("ix_sync_runs_source_name"), "sync_runs", ["source_name"], unique=False)

    op.create_table(
        "worklist_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(length=128), nullable=False),
        sa.Column("source_name", sa.String(length=64), nullable=False),
        sa.Column("source_key", sa.String(length=128), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("issuer_of_patient_id", sa.String(length=64), nullable=True),
        sa.Column("patient_name", sa.String(length=324), nullable=True),
        sa.Column("patient_birth_date", sa.String(length=8), nullable=True),
        sa.Column("patient_sex", sa.String(length=16), nullable=True),
        sa.Column("patient_weight_kg", sa.Float(), nullable=True),
        sa.Column("patient_size_m", sa.Float(), nullable=True),
        sa.Column("medical_alerts", sa.String(length=64), nullable=True),
        sa.Column("allergies", sa.String(length=64), nullable=True),
        sa.Column("accession_number", sa.String(length=16), nullable=True),
        sa.Column("study_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("requested_procedure_id", sa.String(length=16), nullable=True),
        sa.Column("study_description", sa.String(length=64), nullable=True),
        sa.Column("requested_procedure_code_value", sa.String(length=16), nullable=True),
        sa.Column("requested_procedure_code_scheme", sa.String(length=16), nullable=True),
        sa.Column("requested_procedure_code_meaning", sa.String(length=64), nullable=True),
        sa.Column("requested_procedure_priority", sa.String(length=16), nullable=True),
        sa.Column("referring_physician_name", sa.String(length=324), nullable=True),
        sa.Column("requesting_physician", sa.String(length=324), nullable=True),
        sa.Column("scheduled_procedure_step_id", sa.String(length=16), nullable=True),
        sa.Column("modality", sa.String(length=16), nullable=False),
        sa.Column("scheduled_station_aetitle", sa.String(length=16), nullable=True),
        sa.Column("station_name", sa.String(length=16), nullable=True),
        sa.Column("scheduled_procedure_step_location", sa.String(length=16), nullable=True),
        sa.Column("scheduled_start_date", sa.String(length=8), nullable=False),
        sa.Column("scheduled_start_time", sa.String(length=16), nullable=True),
        sa.Column("scheduled_start", sa.String(length=14), nullable=False),
        sa.Column("performing_physician", sa.String(length=324), nullable=True),
        sa.Column("procedure_description", sa.String(length=64), nullable=True),
        sa.Column("protocol_name", sa.String(length=64), nullable=True),
        sa.Column("hisris_coding_designator", sa.String(length=16), nullable=True),
        sa.Column("performed_procedure_step_status", sa.String(length=16), nullable=False),
        sa.Column("status_from_mpps", sa.Boolean(), nullable=False),
        sa.Column("extra_attributes", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_worklist_items")),
        sa.UniqueConstraint("identity", name=op.f("uq_worklist_items_identity")),
    )
    op.create_index(op.f("ix_worklist_items_accession_number"), "worklist_items", ["accession_number"], unique=False)
    op.create_index(op.f("ix_worklist_items_modality"), "worklist_items", ["modality"], unique=False)
    op.create_index(op.f("ix_worklist_items_patient_id"), "worklist_items", ["patient_id"], unique=False)
    op.create_index(
        op.f("ix_worklist_items_performed_procedure_step_status"),
        "worklist_items",
        ["performed_procedure_step_status"],
        unique=False,
    )
    op.create_index(op.f("ix_worklist_items_scheduled_start"), "worklist_items", ["scheduled_start"], unique=False)
    op.create_index(
        op.f("ix_worklist_items_scheduled_station_aetitle"),
        "worklist_items",
        ["scheduled_station_aetitle"],
        unique=False,
    )
    op.create_index(op.f("ix_worklist_items_source_name"), "worklist_items", ["source_name"], unique=False)
    op.create_index(
        op.f("ix_worklist_items_study_instance_uid"), "worklist_items", ["study_instance_uid"], unique=False
    )
    op.create_index(
        "ix_worklist_start_modality_station",
        "worklist_items",
        ["scheduled_start", "modality", "scheduled_station_aetitle"],
        unique=False,
    )

    op.create_table(
        "mpps_instances",
        sa.Column("sop_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("worklist_item_id", sa.Integer(), nullable=True),
        sa.Column("calling_ae_title", sa.String(length=16), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["worklist_item_id"],
            ["worklist_items.id"],
            name=op.f("fk_mpps_instances_worklist_item_id_worklist_items"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("sop_instance_uid", name=op.f("pk_mpps_instances")),
    )
    op.create_index(op.f("ix_mpps_instances_status"), "mpps_instances", ["status"], unique=False)
    op.create_index(op.f("ix_mpps_instances_worklist_item_id"), "mpps_instances", ["worklist_item_id"], unique=False)

    op.create_table(
        "rejected_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sync_run_id", sa.Integer(), nullable=False),
        sa.Column("location", sa.String(length=128), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sync_run_id"], ["sync_runs.id"], name=op.f("fk_rejected_rows_sync_run_id_sync_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_rows")),
    )
    op.create_index(op.f("ix_rejected_rows_sync_run_id"), "rejected_rows", ["sync_run_id"], unique=False)


def downgrade() -> None:
    """Drop every table (a kept ``legacy_worklist_items`` stays)."""
    op.drop_index(op.f("ix_rejected_rows_sync_run_id"), table_name="rejected_rows")

    op.drop_table("rejected_rows")
    op.drop_index(op.f("ix_mpps_instances_worklist_item_id"), table_name="mpps_instances")
    op.drop_index(op.f("ix_mpps_instances_status"), table_name="mpps_instances")

    op.drop_table("mpps_instances")
    op.drop_index("ix_worklist_start_modality_station", table_name="worklist_items")
    op.drop_index(op.f("ix_worklist_items_study_instance_uid"), table_name="worklist_items")
    op.drop_index(op.f("ix_worklist_items_source_name"), table_name="worklist_items")
    op.drop_index(op.f("ix_worklist_items_scheduled_station_aetitle"), table_name="worklist_items")
    op.drop_index(op.f("ix_worklist_items_scheduled_start"), table_name="worklist_items")
    op.drop_index(op.f("ix_worklist_items_performed_procedure_step_status"), table_name="worklist_items")
    op.drop_index(op.f("ix_worklist_items_patient_id"), table_name="worklist_items")
    op.drop_index(op.f("ix_worklist_items_modality"), table_name="worklist_items")
    op.drop_index(op.f("ix_worklist_items_accession_number"), table_name="worklist_items")

    op.drop_table("worklist_items")
    op.drop_index(op.f("ix_sync_runs_source_name"), table_name="sync_runs")

    op.drop_table("sync_runs")
    op.drop_table("source_states")
