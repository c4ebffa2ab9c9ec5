"""End to end: nested JSON and JSON Lines -> the sync engine -> C-FIND over a real association."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from pylantir.config import PylantirConfig
from pylantir.dicom import start_server
from pylantir.dicom.client import Peer, find, worklist_identifier
from pylantir.store import Database
from pylantir.sync.service import SyncService
from pylantir.testing import load_distribution

MAPPING = {
    "patient.mrn": "patient_id",
    "patient_name": {"template": "{patient.family}^{patient.given}"},
    "exam.modality": "modality",
    "slot.date": "scheduled_start_date",
    "slot.time": "scheduled_start_time",
    "booking_id": "accession_number",
    "protocol_name": {"template": "{exam.study}_visit{exam.visit}"},
}


def booking(number: int, given: str, day: str) -> dict:
    return {
        "booking_id": f"BK{number}",
        "patient": {"mrn": f"J{number}", "family": "DEMO", "given": given},
        "slot": {"date": day, "time": "10:30"},
        "exam": {"modality": "MR", "study": "NEURO7", "visit": number},
    }



def sync_and_query(database: Database, source_config: dict) -> tuple[str, list[tuple[str, str]]]:
    config = PylantirConfig.model_validate(
        {"data_sources": [{"name": "bookings", "type": "json", "config": source_config, "field_mapping": MAPPING}]}
    )
    (result,) = SyncService(config, load_distribution("pylantir-json")[0], database).run_once()
    server = start_server(config, database, port=0)
    try:
        today = datetime.now(UTC).strftime("%Y%m%d")
        found = find(Peer("127.0.0.1", server.port), worklist_identifier(date=today))
    finally:
        server.shutdown()
    return result.outcome, sorted((str(ds.PatientName), ds.AccessionNumber) for ds in found)


def test_nested_records_under_a_records_path(database: Database, tmp_path: Path):
    today = datetime.now(UTC).date().isoformat()
    document = {"exported": today, "data": {"bookings": [booking(1, "GRACE", today), 42, booking(2, "HEIDI", today)]}}
    path = tmp_path / "export.json"
    path.write_text(json.dumps(document))
    outcome, found = sync_and_query(database, {"file_path": str(path), "format": "object",
                                               "records_path": "data.bookings"})
    assert outcome == "success"
    assert found == [("DEMO^GRACE", "BK1"), ("DEMO^HEIDI", "BK2")]


def test_json_lines(database: Database, tmp_path: Path):
    today = datetime.now(UTC).date().isoformat()
    path = tmp_path / "bookings.jsonl"
    path.write_text("\n".join(json.dumps(booking(n, given, today)) for n, given in ((1, "IVAN"), (2, "JUDY"))))
    outcome, found = sync_and_query(database, {"file_path": str(path), "format": "jsonl"})
    assert (outcome, found) == ("success", [("DEMO^IVAN", "BK1"), ("DEMO^JUDY", "BK2")])


def test_content_digest_of_a_json_lines_export(tmp_path: Path):
    registry = load_distribution("pylantir-json")[0]
    owner = registry.owner("json", "site")
    path = tmp_path / "site.jsonl"
    path.write_text('{"mrn": "M1"}\n')

    def digest(**config: object) -> object:
        results = registry.call_hook(owner, "content_digest", source_type="json", source_name="site",
                                     config={"file_path": str(path), "format": "jsonl", **config}, config_dir=tmp_path)
        return results[0] if results else None  # (pluggy drops a None result)

    first = digest()
    assert isinstance(first, str) and digest() == first
    path.write_text('{"mrn": "M2"}\n')
    assert digest() != first
    assert digest(watch_for_changes=True) is None
