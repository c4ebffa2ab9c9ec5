"""The preview (``sources check --fetch``, the contract check) runs the sync's own per-item pipeline."""

from __future__ import annotations

from sqlalchemy import select

from pylantir import Rejected
from pylantir.preview import preview_source
from pylantir.store import WorklistItem
from pylantir.sync.rows import COLUMNS
from pylantir.sync.runner import sync_source


def test_preview_rejects_a_second_record_of_the_same_entry(memory, kit) -> None:
    memory.rows["alpha"] = [kit.record(1), kit.record(2, acc="ACC00001"), kit.record(3), Rejected("line 9", "bad")]
    preview = preview_source(memory.registry, kit.source())
    assert preview.fetched == 4
    assert [entry["patient_id"] for entry in preview.entries] == ["P00001", "P00003"]
    assert [(r.location, r.reason) for r in preview.rejected] == [
        ("record 2", "same entry (acc:ACC00001) as an earlier record"), ("line 9", "bad"),
    ]


def test_preview_and_sync_agree_on_every_row(memory, database, kit) -> None:
    memory.rows["alpha"] = [kit.record(n) for n in range(5)] + [kit.record(9, pid="")]
    preview = preview_source(memory.registry, kit.source())
    result = sync_source(database, memory.registry, kit.source())
    assert (result.inserted, result.rejected) == (len(preview.entries), len(preview.rejected)) == (5, 1)
    with database.session() as session:
        stored = [{column: getattr(item, column) for column in COLUMNS}
                  for item in session.scalars(select(WorklistItem).order_by(WorklistItem.id))]
    assert stored == preview.entries
