"""Throughput and peak memory of the csv and json sources, at two file sizes; then ``pylantir sync`` of them.

Usage: python bench/file_sources_bench.py [--rows N] [--runs R]   (default 100000 rows, 5 runs; also N/10)

Each source is fetched through a real PluginRegistry (the plugins' entry points), the records consumed
and dropped as the sync engine does in batches. Prints, per format and size: file size, rows per second
of wall time and of CPU time (without tracing; on a shared machine the CPU figure is the steadier one) and
the peak of Python allocations during the fetch (tracemalloc). Streaming means
the peak stays flat when the file grows tenfold; ``json.load`` of the same array is printed to compare.
The JSON parser's ijson backend is printed first.

Then, per format at N rows, the installed ``pylantir`` console script syncs the file as a site would
(``pylantir sync --config ...``, a process of its own): a first sync into a new SQLite file and an
unchanged re-sync, each run R times; medians of wall time, CPU time (user + system: steadier than wall
time on a shared machine) and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pylantir import FetchState
from pylantir.plugins import PluginRegistry
from pylantir_json.parser import BACKEND

PYLANTIR = str(Path(sys.executable).parent / "pylantir")
#: The same bookings mapped from each format (JSON and JSON Lines nest them under "patient").
SYNC_SOURCES = {
    "csv": ({}, ""),
    "json": ({"format": "array"}, "patient."),
    "jsonl": ({"format": "jsonl"}, "patient."),
}
TARGETS = {
    "patient_id": "patient_id", "patient_name": "patient_name", "birth_date": "patient_birth_date",
    "sex": "patient_sex", "modality": "modality", "scan_date": "scheduled_start_date",
    "scan_time": "scheduled_start_time", "description": "requested_procedure_description",
}

FIELDS = ["patient_id", "patient_name", "birth_date", "sex", "modality", "scan_date", "scan_time", "description"]


def booking(index: int) -> dict[str, str]:
    """A fake booking, about 150 bytes as CSV."""
    return {
        "patient_id": f"DEMO{index:07d}",
        "patient_name": f"DEMO^PATIENT{index}",
        "birth_date": f"19{50 + index % 50:02d}-0{1 + index % 9}-1{index % 10}",
        "sex": "FMO"[index % 3],
        "modality": "MR",
        "scan_date": "2026-11-25",
        "scan_time": f"{8 + index % 10:02d}:{index % 60:02d}",
        "description": "Brain MRI without contrast, research protocol",
    }


def write_files(directory: Path, rows: int) -> dict[str, Path]:
    """The same bookings as CSV, a JSON array (nested records) and JSON Lines."""
    paths = {fmt: directory / f"bookings-{rows}.{fmt}" for fmt in ("csv", "json", "jsonl")}
    with open(paths["csv"], "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        writer.writerows(booking(i) for i in range(rows))
    with open(paths["json"], "w", encoding="utf-8") as array, open(paths["jsonl"], "w", encoding="utf-8") as lines:
        array.write("[\n")
        for i in range(rows):
            record = json.dumps({"patient": booking(i), "site": {"name": "DEMO SITE", "room": i % 4}})
            array.write(("" if i == 0 else ",\n") + record)
            lines.write(record + "\n")
        array.write("\n]\n")
    return paths


def consume(fetch: Callable[[], Any]) -> int:
    count = 0
    for _ in fetch():
        count += 1
    return count


def measure(fetch: Callable[[], Any]) -> tuple[int, float, float, float]:
    """(records, records per wall second, records per CPU second, peak MiB of Python allocations)."""
    start, start_cpu = time.perf_counter(), time.process_time()
    count = consume(fetch)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    tracemalloc.start()
    consume(fetch)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return count, count / elapsed, count / cpu, peak / 2**20


# A small process that starts the command and reports its figures: a child's peak RSS counts what it
# held before exec, so the command must not be forked from this (by then large) benchmark process.
_LAUNCHER = """
import os, sys, time
started = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)
_, status, usage = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), time.perf_counter() - started, usage.ru_utime + usage.ru_stime,
      usage.ru_maxrss / 1024)
"""


def sync_process(config: Path) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS MiB) of one ``pylantir sync`` process, which must succeed."""
    launched = subprocess.run([sys.executable, "-c", _LAUNCHER, PYLANTIR, "sync", "--config", str(config)],
                              capture_output=True, text=True, check=True)
    code, wall, cpu, rss = launched.stdout.split()[-4:]
    if code != "0":
        raise SystemExit(f"pylantir sync failed ({code}): {launched.stderr}")
    return float(wall), float(cpu), float(rss)


def bench_sync(directory: Path, paths: dict[str, Path], runs: int) -> None:
    print(f"\npylantir sync as a process, {runs} runs each: median wall s / CPU s / peak RSS MiB")
    print(f"{'format':9} {'first sync':>20} {'unchanged re-sync':>20}")
    for fmt, path in paths.items():
        extra, prefix = SYNC_SOURCES[fmt]
        database = directory / f"sync-{fmt}.sqlite"
        config = directory / f"sync-{fmt}.json"
        config.write_text(json.dumps({
            "database_url": f"sqlite:///{database}",
            "data_sources": [{
                "name": f"bench_{fmt}", "type": "csv" if fmt == "csv" else "json",
                "config": {"file_path": str(path), **extra},
                "field_mapping": {prefix + field: target for field, target in TARGETS.items()},
            }],
        }))
        first, again = [], []
        for _ in range(runs):
            database.unlink(missing_ok=True)
            first.append(sync_process(config))
            again.append(sync_process(config))
        print(f"{fmt:9} {_medians(first):>20} {_medians(again):>20}")


def _medians(figures: list[tuple[float, float, float]]) -> str:
    wall, cpu, rss = (statistics.median(column) for column in zip(*figures, strict=True))
    return f"{wall:.2f} / {cpu:.2f} / {rss:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()
    rows = arguments.rows
    print(f"JSON arrays parsed by ijson, backend {BACKEND}")
    registry = PluginRegistry()
    registry.load_entry_points(only="pylantir-csv")
    registry.load_entry_points(only="pylantir-json")
    configs = {
        "csv": ("csv", {}, frozenset(FIELDS)),
        "json": ("json", {"format": "array"}, frozenset()),
        "jsonl": ("json", {"format": "jsonl"}, frozenset()),
    }
    print(f"{'format':9} {'rows':>8} {'file MiB':>9} {'rows/s':>9} {'rows/CPU-s':>10} {'peak MiB':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in (rows // 10, rows):
            paths = write_files(Path(tmp), size)
            for fmt, (source_type, extra, fields) in configs.items():
                config = {"file_path": str(paths[fmt]), **extra}

                def fetch(source_type=source_type, config=config, fields=fields):
                    return registry.fetch_entries(source_type, "bench", config, fields, FetchState())

                count, rate, cpu_rate, peak = measure(fetch)
                assert count == size, (fmt, count)
                file_mib = paths[fmt].stat().st_size / 2**20
                print(f"{fmt:9} {size:8} {file_mib:9.1f} {rate:9.0f} {cpu_rate:10.0f} {peak:9.2f}")
            tracemalloc.start()
            with open(paths["json"], encoding="utf-8") as handle:
                json.load(handle)
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            print(f"{'json.load':9} {size:8} {paths['json'].stat().st_size / 2**20:9.1f} {'':>20} {peak:9.2f}")
        bench_sync(Path(tmp), paths, arguments.runs)


if __name__ == "__main__":
    main()
