"""End to end: a CSV export -> the sync engine -> the database -> C-FIND over a real association."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from pylantir.config import PylantirConfig
from pylantir.dicom import start_server
from pylantir.dicom.client import Peer, find, worklist_identifier
from pylantir.store import Database, RejectedRow, WorklistItem
from pylantir.sync.service import SyncService
from pylantir.testing import load_distribution

MAPPING = {
    "mrn": "patient_id",
    "name": "patient_name",
    "dob": "patient_birth_date",
    "modality": "modality",
    "exam_date": "scheduled_start_date",
    "exam_time": "scheduled_start_time",
    "accession": "accession_number",
}


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def write_export(path: Path, rows: list[str]) -> None:
    path.write_text("mrn;name;dob;modality;exam_date;exam_time;accession\n" + "".join(f"{row}\n" for row in rows))



def service_for(database: Database, source_config: dict) -> SyncService:
    config = PylantirConfig.model_validate(
        {"data_sources": [{"name": "site_b", "type": "csv", "config": source_config, "field_mapping": MAPPING}]}
    )
    return SyncService(config, load_distribution("pylantir-csv")[0], database)


def worklist_names(database: Database, date: str) -> list[str]:
    config = PylantirConfig()
    server = start_server(config, database, port=0)
    try:
        found = find(Peer("127.0.0.1", server.port), worklist_identifier(date=date.replace("-", "")))
    finally:
        server.shutdown()
    return sorted(str(identifier.PatientName) for identifier in found)


def test_rows_land_and_answer_c_find_and_a_malformed_row_is_rejected(database: Database, tmp_path: Path):
    path = tmp_path / "site_b.csv"
    write_export(path, [
        f"M1;DEMO^ALICE;1984-03-14;MR;{today()};08:30;A1",
        "M2;DEMO^BROKEN;1990-01-01;MR",
        f"M3;DEMO^BOB;1971-11-02;CT;{today()};09:15;A3",
    ])
    (result,) = service_for(database, {"file_path": str(path)}).run_once()
    assert (result.outcome, result.inserted, result.rejected) == ("success", 2, 1), result.error
    assert worklist_names(database, today()) == ["DEMO^ALICE", "DEMO^BOB"]
    with database.session() as session:
        (rejected,) = session.scalars(select(RejectedRow)).all()
        assert rejected.location == "site_b.csv, line 3"
        assert rejected.reason.endswith("4 field(s), the header row has 7")


def test_unchanged_files_are_skipped_and_changes_land(database: Database, tmp_path: Path):
    path = tmp_path / "site_b.csv"
    write_export(path, [f"M1;DEMO^ALICE;1984-03-14;MR;{today()};08:30;A1"])
    service = service_for(database, {"file_path": str(tmp_path / "*.csv"), "watch_for_changes": "hash"})
    assert service.run_once()[0].outcome == "success"
    assert service.run_once()[0].outcome == "unchanged"
    write_export(path, [f"M1;DEMO^ALICE;1984-03-14;MR;{today()};10:00;A1",
                        f"M2;DEMO^CAROL;1995-07-21;MR;{today()};11:00;A2"])
    (result,) = service.run_once()
    assert (result.outcome, result.inserted, result.updated) == ("success", 1, 1)
    with database.session() as session:
        times = session.scalars(select(WorklistItem.scheduled_start_time).order_by(WorklistItem.patient_id)).all()
    assert times == ["100000", "110000"]


def test_a_broken_file_fails_the_sync_and_keeps_the_worklist(database: Database, tmp_path: Path):
    path = tmp_path / "site_b.csv"
    write_export(path, [f"M1;DEMO^ALICE;1984-03-14;MR;{today()};08:30;A1"])
    service = service_for(database, {"file_path": str(path)})
    assert service.run_once()[0].outcome == "success"
    path.write_text("mrn;name;birth;modality;exam_date;exam_time;accession\n")
    (result,) = service.run_once()
    assert result.outcome == "failed"
    assert result.error.startswith(f"source 'site_b': '{path}': column 'dob' used by the source is not in the header")
    assert worklist_names(database, today()) == ["DEMO^ALICE"]


def test_content_digest_an_unchanged_export_syncs_unchanged_and_a_changed_one_lands(database: Database,
                                                                                      tmp_path: Path):
    path = tmp_path / "site_b.csv"
    write_export(path, [f"M1;DEMO^ALICE;1984-03-14;MR;{today()};08:30;A1", "M2;DEMO^BROKEN;1990-01-01;MR",
                        f"M3;DEMO^BOB;1971-11-02;CT;{today()};09:15;A3"])
    service = service_for(database, {"file_path": str(path)})
    first = service.run_once()[0]
    assert (first.outcome, first.fetched, first.inserted, first.rejected) == ("success", 3, 2, 1)
    again = service.run_once()[0]
    assert (again.outcome, again.fetched, again.unchanged, again.inserted, again.rejected) == ("success", 3, 2, 0, 1)
    with database.session() as session:
        reasons = {run: session.scalars(select(RejectedRow.reason).where(RejectedRow.sync_run_id == run)).all()
                   for run in (first.run_id, again.run_id)}
    assert reasons[again.run_id] == reasons[first.run_id] and len(reasons[first.run_id]) == 1
    write_export(path, [f"M1;DEMO^ALICE;1984-03-14;MR;{today()};10:00;A1"])
    changed = service.run_once()[0]
    assert (changed.updated, changed.removed, changed.rejected) == (1, 1, 0)
    assert worklist_names(database, today()) == ["DEMO^ALICE"]
