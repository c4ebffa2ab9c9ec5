"""Worklist entries are Scheduled Procedure Steps: step identities, step-level extras, several station AE titles.

- ``identity``: an identity naming a requested procedure (``uid:...``, ``acc:...``) gets the step's ID
  (``\\sps:<scheduled_procedure_step_id>``) when the row has one, as :func:`pylantir.sync.identity.identity_of`
  now computes it, so that the next sync finds these rows again instead of adding copies (``key:``
  identities already include the step ID; generated Study Instance UIDs do not change);
- ``extra_step_attributes`` (JSON): the extras of the Scheduled Procedure Step item; stored extras that
  are attributes of that item (:data:`pylantir.store.catalogue.STEP_EXTRAS`) move there from
  ``extra_attributes``;
- ``scheduled_station_aetitle`` holds up to 8 AE titles separated by ``\\`` (``VARCHAR(16)`` ->
  ``VARCHAR(135)``); on SQLite the table is copied for that, keeping the MPPS instances' links.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pylantir.store.catalogue import STEP_EXTRAS
from pylantir.store.migrations.worklist_copy import copied_worklist_table

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

STATION = "scheduled_station_aetitle"
OLD_STATION, NEW_STATION = sa.String(16), sa.String(135)
STEP_EXTRAS_COLUMN = "extra_step_attributes"
#: Between the requested procedure's part of an identity and the step's (pylantir.sync.identity.STEP_SEPARATOR).
STEP_SEPARATOR = "\\sps:"
ITEMS = sa.table(
    "worklist_items",
    sa.column("id", sa.Integer),
    sa.column("identity", sa.String),
    sa.column(STATION, sa.String),
    sa.column("extra_attributes", sa.JSON),
    sa.column(STEP_EXTRAS_COLUMN, sa.JSON),
)


def _station_and_step_extras(station: sa.types.TypeEngine[str], *, add: bool) -> None:
    """Give the station column its type, and add or drop the step extras column."""
    if op.get_bind().dialect.name == "sqlite":
        with copied_worklist_table() as batch:
            batch.alter_column(STATION, type_=station)
            if add:
                batch.add_column(sa.Column(STEP_EXTRAS_COLUMN, sa.JSON(), nullable=True))
            else:
                batch.drop_column(STEP_EXTRAS_COLUMN)
        return
    op.alter_column("worklist_items", STATION, type_=station)
    if add:
        op.add_column("worklist_items", sa.Column(STEP_EXTRAS_COLUMN, sa.JSON(), nullable=True))
    else:
        op.drop_column("worklist_items", STEP_EXTRAS_COLUMN)


def upgrade() -> None:
    """The longer station column, the step extras column (filled from the top level), step identities."""
    _station_and_step_extras(NEW_STATION, add=True)
    bind = op.get_bind()
    for row_id, top in bind.execute(sa.select(ITEMS.c.id, ITEMS.c.extra_attributes)).all():
        step = {keyword: value for keyword, value in (top or {}).items() if keyword in STEP_EXTRAS}
        if step:
            rest = {keyword: value for keyword, value in top.items() if keyword not in STEP_EXTRAS}
            bind.execute(sa.update(ITEMS).where(ITEMS.c.id == row_id)
                         .values({"extra_attributes": rest or None, STEP_EXTRAS_COLUMN: step}))
    op.execute(
        sa.text(
            "UPDATE worklist_items SET identity = identity || :separator || scheduled_procedure_step_id "
            "WHERE (identity LIKE 'uid:%' OR identity LIKE 'acc:%') "
            "AND scheduled_procedure_step_id IS NOT NULL AND scheduled_procedure_step_id <> ''"
        ).bindparams(separator=STEP_SEPARATOR)
    )


def downgrade() -> None:
    """One row per requested procedure again (its first step is kept), step extras back at the top level,
    the first station AE title only."""
    bind = op.get_bind()
    procedures: set[str] = set()
    rows = sa.select(ITEMS.c.id, ITEMS.c.identity, ITEMS.c[STATION], ITEMS.c.extra_attributes,
                     ITEMS.c[STEP_EXTRAS_COLUMN]).order_by(ITEMS.c.id)
    for row_id, identity, station, top, step in bind.execute(rows).all():
        procedure = identity.partition(STEP_SEPARATOR)[0]
        if procedure in procedures:
            bind.execute(sa.delete(ITEMS).where(ITEMS.c.id == row_id))
            continue
        procedures.add(procedure)
        bind.execute(sa.update(ITEMS).where(ITEMS.c.id == row_id).values({
            "identity": procedure, STATION: station.partition("\\")[0] if station else station,
            "extra_attributes": {**(top or {}), **(step or {})} or None,
        }))
    _station_and_step_extras(OLD_STATION, add=False)
