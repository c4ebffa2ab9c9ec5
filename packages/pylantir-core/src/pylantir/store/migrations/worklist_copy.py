"""Copying the worklist table on SQLite (Alembic batch mode) without losing the MPPS instances' links.

SQLite changes a column's type or adds a foreign key only by copying the table. Dropping the old copy
with foreign keys on (they are, and ``PRAGMA foreign_keys`` cannot change inside the migration's
transaction) deletes its rows first, which sets ``mpps_instances.worklist_item_id`` to NULL
(``ON DELETE SET NULL``): the links are read before the copy and put back after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations


@contextmanager
def copied_worklist_table() -> Iterator[BatchOperations]:
    """``op.batch_alter_table("worklist_items", recreate="always")``, keeping every MPPS link (SQLite only)."""
    bind = op.get_bind()
    links = bind.execute(
        sa.text("SELECT sop_instance_uid, worklist_item_id FROM mpps_instances WHERE worklist_item_id IS NOT NULL")
    ).all()
    with op.batch_alter_table("worklist_items", recreate="always") as batch:
        yield batch
    if links:
        bind.execute(
            sa.text("UPDATE mpps_instances SET worklist_item_id = :item WHERE sop_instance_uid = :uid"),
            [{"uid": uid, "item": item} for uid, item in links],
        )
