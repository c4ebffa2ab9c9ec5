"""What each hot-path shortcut of the sync saves, per 100,000 rows, against its general path.

Usage: python bench/sync_shortcuts.py [--rows 100000]

Prints, for each shortcut, seconds with it and with the general path on the same input (best of 3):

- raw-driver SQLite bulk insert vs SQLAlchemy's executemany (``store.bulk.BulkUpsert(raw=...)``), into a
  new SQLite file;
- plain-rename mapping vs the same mapping in the rich form (``FieldMapping.apply``);
- the compiled mapping and gate run column by column over chunks of 100 records (``FieldMapping.checked``, as
  the sync runs it) vs ``apply`` and ``QualityGate.check`` record by record;
- the hand-rolled uuid5 of a generated Study Instance UID vs ``uuid.uuid5``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table

from pylantir.store import Database, WorklistItem
from pylantir.store.bulk import BulkUpsert
from pylantir.sync.identity import UID_NAMESPACE, generated_uid
from pylantir.sync.mapping import FieldMapping
from pylantir.sync.quality import QualityGate
from pylantir.sync.rows import INSERT_COLUMNS, PreparedRow, RowPreparer

FIELDS = {"mrn": "patient_id", "name": "patient_name", "dob": "patient_birth_date", "sex": "patient_sex",
          "day": "scheduled_start_date", "time": "scheduled_start_time", "modality": "modality",
          "accession": "accession_number", "exam": "requested_procedure_description",
          "station": "scheduled_station_aetitle"}


TABLE = cast(Table, WorklistItem.__table__)


def records(rows: int) -> list[dict[str, Any]]:
    today = date.today().isoformat()
    return [{"mrn": f"M{n:06d}", "name": f"Given{n} Family{n}", "dob": "1980-02-03", "sex": "F", "day": today,
             "time": f"{8 + n % 10:02d}:{n % 60:02d}", "modality": "MR", "accession": f"A{n:07d}",
             "exam": "Brain MRI", "station": "MR1"} for n in range(rows)]


def best(run: Callable[[], Any]) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def bulk_upsert(rows: list[tuple[Any, ...]], raw: bool) -> float:
    now = datetime.now(UTC)
    constants = {"source_name": "bench", "created_at": now, "updated_at": now, "status_from_mpps": False}
    times = []
    for _ in range(3):
        with tempfile.TemporaryDirectory() as directory:
            database = Database.open(f"sqlite:///{Path(directory) / 'bench.sqlite'}")
            started = time.perf_counter()
            with database.session() as session:
                upsert = BulkUpsert(session, TABLE, INSERT_COLUMNS, constants, "identity",
                                    lambda excluded: ({"content_hash": excluded.content_hash}, None), raw=raw)
                for start in range(0, len(rows), 2000):
                    upsert.execute(rows[start : start + 2000])
            times.append(time.perf_counter() - started)
            database.close()
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    count = parser.parse_args().rows
    raw_records = records(count)
    preparer = RowPreparer(FieldMapping.parse(FIELDS), date.today())
    prepared = [preparer.prepare(record, f"record {n}", f"h{n}") for n, record in enumerate(raw_records)]
    rows = [row.insert_form() for row in prepared if isinstance(row, PreparedRow)]

    print(f"per {count} rows (best of 3), shortcut vs general path:")
    print(f"  SQLite bulk insert, raw driver vs SQLAlchemy: {bulk_upsert(rows, True):.2f} s vs "
          f"{bulk_upsert(rows, False):.2f} s")

    plain = FieldMapping.parse(FIELDS)
    rich = FieldMapping.parse({target: {"from": field} for field, target in FIELDS.items()})
    print(f"  mapping, plain renames vs rich form: {best(lambda: [plain.apply(r) for r in raw_records]):.2f} s vs "
          f"{best(lambda: [rich.apply(r) for r in raw_records]):.2f} s")

    gate = QualityGate(date.today())
    chunks = [raw_records[start : start + 100] for start in range(0, count, 100)]

    def compiled() -> None:
        checked = plain.checked(gate.passes, gate.text_match)  # a new pass: it remembers what it accepted
        for chunk in chunks:
            checked(chunk)

    def general() -> None:
        for record in raw_records:
            gate.check(plain.apply(record))

    print(f"  mapping and gate, column by column vs record by record: {best(compiled):.2f} s vs "
          f"{best(general):.2f} s")

    identities = [f"acc:A{n:07d}" for n in range(count)]
    hand_rolled = best(lambda: [generated_uid(identity) for identity in identities])
    library = best(lambda: [f"2.25.{uuid.uuid5(UID_NAMESPACE, identity).int}" for identity in identities])
    print(f"  generated UID, hand-rolled uuid5 vs uuid.uuid5: {hand_rolled:.2f} s vs {library:.2f} s")


if __name__ == "__main__":
    main()
