"""The normalisation version in the unchanged-record skip key: a change of what normalisation makes of a
record rewrites the stored rows."""

from __future__ import annotations

from sqlalchemy import select, update

from pylantir.store import WorklistItem
from pylantir.sync.identity import record_hasher
from pylantir.sync.mapping import FieldMapping
from pylantir.sync.normalisation import ALL_TARGETS, PROBED_TARGETS, normalisation_version, probe_outputs
from pylantir.sync.runner import sync_source
from pylantir.sync.values import ALL_FORMATS


def test_the_probe_set_covers_every_format_and_every_worklist_field() -> None:
    assert ALL_TARGETS - PROBED_TARGETS == set()
    assert "patient_weight_lb" in ALL_TARGETS and any(name.startswith("extra.") for name in PROBED_TARGETS)
    formats = {output[0] for output in probe_outputs() if isinstance(output[0], str) and len(output) == 2}
    assert set(ALL_FORMATS) <= formats
    assert len(normalisation_version()) == 16


def test_rows_stored_under_another_normalisation_are_rewritten(memory, database, kit) -> None:
    memory.rows["alpha"] = [kit.record(1), kit.record(2)]
    src = kit.source()
    assert sync_source(database, memory.registry, src).inserted == 2
    # the rows as an older release stored them: another name form, content hashes under its normalisation
    older = record_hasher(FieldMapping.parse(src.field_mapping).fingerprint, "older-normalisation")
    with database.session() as session:
        for number in (1, 2):
            session.execute(update(WorklistItem).where(WorklistItem.patient_id == f"P{number:05d}").values(
                patient_name=f"Given{number} Family{number}", content_hash=older(kit.record(number))))
    again = sync_source(database, memory.registry, src)
    assert (again.updated, again.unchanged) == (2, 0)
    with database.session() as session:
        assert sorted(session.scalars(select(WorklistItem.patient_name))) == ["Family1^Given1", "Family2^Given2"]
    assert sync_source(database, memory.registry, src).unchanged == 2
