"""The preview (``sources check --fetch``, the contract check) runs the sync's own per-item pipeline."""

from __future__ import annotations

import logging

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
        ("record 2", "same entry as an earlier record (same accession number)"), ("line 9", "bad"),
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


def test_a_second_record_of_an_entry_is_logged_without_its_identifiers(memory, database, kit, caplog) -> None:
    memory.rows["alpha"] = [kit.record(1), kit.record(2, acc="ACC00001", pid="P00001")]
    with caplog.at_level(logging.INFO, logger="pylantir"):
        result = sync_source(database, memory.registry, kit.source())
    assert result.rejected == 1
    [line] = [r.getMessage() for r in caplog.records if "same entry" in r.getMessage()]
    assert "same entry as an earlier record (same accession number)" in line
    assert not any("ACC00001" in r.getMessage() or "P00001" in r.getMessage() for r in caplog.records)
