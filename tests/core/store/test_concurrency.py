"""One writer syncing while several readers query, on a real SQLite file: nobody sees "database is locked"."""

from __future__ import annotations

import threading

from sqlalchemy import delete, func, select, update

from pylantir.store import Database, SyncRun, WorklistItem
from pylantir.store.queries import WorklistFilter, list_worklist

SYNCS = 40
ROWS_PER_SYNC = 25
READERS = 4


def test_writer_and_readers_at_once(sqlite_url, worklist_values):
    database = Database.open(sqlite_url)
    errors: list[BaseException] = []
    writer_done = threading.Event()
    reads = [0] * READERS

    def writer() -> None:
        try:
            for sync in range(SYNCS):
                with database.session() as session:  # one transaction per sync, like the sync engine
                    run = SyncRun(source_name="site_a", source_type="csv")
                    session.add(run)
                    session.execute(
                        WorklistItem.__table__.insert(),
                        [worklist_values(patient_id=f"S{sync}-{row}") for row in range(ROWS_PER_SYNC)],
                    )
                    session.execute(
                        update(WorklistItem)
                        .where(WorklistItem.patient_id.like(f"S{sync - 1}-%"))
                        .values(scheduled_procedure_step_status="ARRIVED")
                    )
                    if sync % 10 == 9:
                        session.execute(delete(WorklistItem).where(WorklistItem.patient_id.like(f"S{sync - 9}-%")))
                    run.outcome = "success"
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            writer_done.set()

    def reader(index: int) -> None:
        try:
            while not writer_done.is_set() or reads[index] == 0:
                with database.session() as session:
                    list_worklist(session, WorklistFilter(date_from="20250102", date_to="20250102", modality="MR"))
                    session.scalar(select(func.count()).select_from(WorklistItem))
                reads[index] += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader, args=(i,)) for i in range(READERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert not any(thread.is_alive() for thread in threads)
        assert errors == [], errors
        assert all(count > 0 for count in reads)
        with database.session() as session:
            remaining = session.scalar(select(func.count()).select_from(WorklistItem))
            runs = session.scalar(select(func.count()).where(SyncRun.outcome == "success"))
        assert remaining == (SYNCS - SYNCS // 10) * ROWS_PER_SYNC
        assert runs == SYNCS
    finally:
        database.close()
