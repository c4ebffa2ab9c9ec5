"""SQLite with one writer (sync transactions) and several readers (C-FIND-like queries) at once.

Usage: python bench/store_concurrency.py [--seconds S] [--readers R] [--rows N]
Prints write transactions/s, rows written/s, reads/s, read latency (median, p95, max), lock errors, and the
cost of Database.open on an up-to-date database (the Alembic check at start).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from pylantir.store import Database, WorklistItem
from pylantir.store.queries import WorklistFilter, list_worklist


def row(day: str) -> dict[str, object]:
    key = uuid.uuid4().hex
    return {
        "identity": key, "source_name": "bench", "source_key": key, "content_hash": key,
        "patient_id": key[:16], "study_instance_uid": f"2.25.{int(key, 16)}", "modality": "MR",
        "scheduled_station_aetitle": "MR1", "scheduled_start_date": day, "scheduled_start_time": "090000",
        "scheduled_start": day + "090000",
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--rows", type=int, default=200, help="rows per sync transaction")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        database = Database.open(url)
        stop = threading.Event()
        writes, locks = [0], [0]
        latencies: list[list[float]] = [[] for _ in range(args.readers)]

        def writer() -> None:
            n = 0
            while not stop.is_set():
                day = f"202501{n % 28 + 1:02d}"
                try:
                    with database.session() as session:
                        session.execute(WorklistItem.__table__.insert(), [row(day) for _ in range(args.rows)])
                        same_day = WorklistItem.scheduled_start_date == day
                        session.execute(update(WorklistItem).where(same_day).values(content_hash="x"))
                    writes[0] += 1
                except OperationalError:
                    locks[0] += 1
                n += 1

        def reader(index: int) -> None:
            n = 0
            while not stop.is_set():
                day = f"202501{n % 28 + 1:02d}"
                start = time.perf_counter()
                try:
                    with database.session() as session:
                        list_worklist(session, WorklistFilter(date_from=day, date_to=day, modality="MR"))
                    latencies[index].append((time.perf_counter() - start) * 1000)
                except OperationalError:
                    locks[0] += 1
                n += 1

        threads = [threading.Thread(target=writer)] + [
            threading.Thread(target=reader, args=(i,)) for i in range(args.readers)
        ]
        for thread in threads:
            thread.start()
        time.sleep(args.seconds)
        stop.set()
        for thread in threads:
            thread.join()
        with database.session() as session:
            total = len(session.scalars(select(WorklistItem.id)).all())
        database.close()

        opens = []
        for _ in range(10):
            start = time.perf_counter()
            Database.open(url).close()
            opens.append((time.perf_counter() - start) * 1000)

    reads = sorted(x for per in latencies for x in per)
    p95 = reads[min(len(reads) - 1, round(0.95 * (len(reads) - 1)))]
    print(f"{args.seconds:g} s, 1 writer ({args.rows} rows per transaction), {args.readers} readers, SQLite WAL")
    rows_per_second = writes[0] * args.rows / args.seconds
    print(f"write transactions/s : {writes[0] / args.seconds:10.1f}   rows/s: {rows_per_second:.0f}")
    print(f"reads/s              : {len(reads) / args.seconds:10.1f}")
    print(f"read ms median/p95/max: {statistics.median(reads):.2f} / {p95:.2f} / {reads[-1]:.2f}")
    print(f"'database is locked' : {locks[0]}")
    print(f"rows at the end      : {total}")
    print(f"Database.open (up to date) ms median: {statistics.median(opens):.1f}")


if __name__ == "__main__":
    main()
