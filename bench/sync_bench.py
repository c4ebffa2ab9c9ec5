"""Sync engine figures: a large initial sync, an unchanged re-sync, and memory with concurrent sources.

Usage: python bench/sync_bench.py [--rows 100000] [--concurrent-rows 20000]

Each scenario runs in a fresh child process (so peak RSS is its own), against a new SQLite file, with a
generated in-memory source type registered through a PluginRegistry. Prints:

- initial: seconds and peak RSS for ``--rows`` rows into an empty database (target < 3 s, < 150 MB);
- resync: seconds and worklist row writes for the same rows unchanged (target < 1 s, 0 writes);
- concurrent: peak RSS growth with 1, 2, 5 and 10 sources of ``--concurrent-rows`` rows syncing at once
  (target: linear in the number of sources).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import types
from datetime import date
from pathlib import Path

MAPPING = {
    "mrn": "patient_id",
    "name": "patient_name",
    "dob": "patient_birth_date",
    "sex": "patient_sex",
    "day": "scheduled_start_date",
    "time": "scheduled_start_time",
    "modality": "modality",
    "accession": "accession_number",
    "exam": "requested_procedure_description",
    "station": "scheduled_station_aetitle",
}


def generated_registry():  # type: ignore[no-untyped-def]
    """A registry holding a ``generated`` source type that yields ``config["rows"]`` synthetic records."""
    from pylantir import SourceType, hookimpl
    from pylantir.plugins import PluginRegistry

    module = types.ModuleType("generated_source")

    @hookimpl
    def source_types() -> list[SourceType]:
        return [SourceType("generated", "synthetic rows for benchmarks")]

    @hookimpl
    def fetch_entries(source_name: str, config: dict) -> object:
        today = date.today().isoformat()
        for number in range(config["rows"]):
            yield {
                "mrn": f"{source_name}-{number:07d}",
                "name": f"Given{number} Family{number % 997}",
                "dob": f"19{50 + number % 50}-0{1 + number % 9}-1{number % 10}",
                "sex": "MF"[number % 2],
                "day": today,
                "time": f"{7 + number % 12:02d}:{number % 60:02d}",
                "modality": ("MR", "CT", "US")[number % 3],
                "accession": f"{source_name[:4]}{number:08d}",
                "exam": "Brain MRI",
                "station": "SCANNER1",
            }

    module.source_types = source_types
    module.fetch_entries = fetch_entries
    registry = PluginRegistry()
    registry.register_module(module, "generated")
    return registry


def _config(sources: int, rows: int, url: str):  # type: ignore[no-untyped-def]
    from pylantir.config import PylantirConfig

    return PylantirConfig.model_validate({
        "database_url": url,
        "data_sources": [
            {"name": f"src{i}", "type": "generated", "config": {"rows": rows}, "field_mapping": MAPPING}
            for i in range(sources)
        ],
    })


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_initial_and_resync(rows: int, url: str) -> dict[str, float]:
    """Initial sync, then an unchanged re-sync counting statements that write worklist rows."""
    from sqlalchemy import event

    from pylantir.store import Database
    from pylantir.sync.service import SyncService

    database = Database.open(url)
    service = SyncService(_config(1, rows, url), generated_registry(), database)
    baseline = _peak_mb()
    start, cpu = time.perf_counter(), time.process_time()
    (first,) = service.run_once()
    initial, initial_cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = _peak_mb()
    writes = []
    event.listen(
        database.engine,
        "before_cursor_execute",
        lambda _c, _cur, sql, *_: writes.append(sql)
        if sql.lstrip().upper().startswith(("INSERT INTO WORKLIST", "UPDATE WORKLIST", "DELETE FROM WORKLIST"))
        else None,
    )
    start, cpu = time.perf_counter(), time.process_time()
    (second,) = service.run_once()
    resync, resync_cpu = time.perf_counter() - start, time.process_time() - cpu
    service.stop()
    assert first.inserted == rows and second.unchanged == rows, (first, second)
    return {"initial_s": initial, "initial_cpu_s": initial_cpu, "baseline_mb": baseline, "peak_mb": peak,
            "resync_s": resync, "resync_cpu_s": resync_cpu, "resync_writes": len(writes)}


def child_concurrent(sources: int, rows: int, url: str) -> dict[str, float]:
    """``sources`` sources of ``rows`` rows syncing at once."""
    from pylantir.store import Database
    from pylantir.sync.service import SyncService

    database = Database.open(url)
    service = SyncService(_config(sources, rows, url), generated_registry(), database)
    baseline = _peak_mb()
    start = time.perf_counter()
    results = service.run_once()
    seconds = time.perf_counter() - start
    service.stop()
    assert all(r.ok for r in results), results
    return {"seconds": seconds, "baseline_mb": baseline, "peak_mb": _peak_mb()}


def _in_child(*args: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.sqlite'}"
        output = subprocess.run(
            [sys.executable, __file__, "--child", *args, url], check=True, capture_output=True, text=True
        ).stdout
    return json.loads(output.splitlines()[-1])


def main() -> None:
    """Run every scenario in its own process and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--concurrent-rows", type=int, default=20_000)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        kind, *numbers, url = options.child
        if kind == "initial":
            print(json.dumps(child_initial_and_resync(int(numbers[0]), url)))
        else:
            print(json.dumps(child_concurrent(int(numbers[0]), int(numbers[1]), url)))
        return

    figures = _in_child("initial", str(options.rows))
    print(f"initial sync of {options.rows} rows into empty SQLite: {figures['initial_s']:.2f} s "
          f"({figures['initial_cpu_s']:.2f} s CPU), peak RSS {figures['peak_mb']:.0f} MB "
          f"(before the sync {figures['baseline_mb']:.0f} MB)")
    print(f"unchanged re-sync of {options.rows} rows: {figures['resync_s']:.2f} s "
          f"({figures['resync_cpu_s']:.2f} s CPU), "
          f"{figures['resync_writes']:.0f} worklist row writes")
    print(f"concurrent sources of {options.concurrent_rows} rows each:")
    for sources in (1, 2, 5, 10):
        figures = _in_child("concurrent", str(sources), str(options.concurrent_rows))
        growth = figures["peak_mb"] - figures["baseline_mb"]
        print(f"  {sources:2d} sources: {figures['seconds']:.2f} s, peak RSS {figures['peak_mb']:.0f} MB "
              f"(+{growth:.0f} MB over start, {growth / sources:.1f} MB per source)")


if __name__ == "__main__":
    main()
