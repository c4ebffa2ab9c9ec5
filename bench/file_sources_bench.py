"""Throughput and peak memory of the csv and json sources, at two file sizes.

Usage: python bench/file_sources_bench.py [--rows N]   (default 100000; also runs N/10)

Each source is fetched through a real PluginRegistry (the plugins' entry points), the records consumed
and dropped as the sync engine does in batches. Prints, per format and size: file size, rows per second
(without tracing) and the peak of Python allocations during the fetch (tracemalloc). Streaming means
the peak stays flat when the file grows tenfold; ``json.load`` of the same array is printed to compare.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pylantir import FetchState
from pylantir.plugins import PluginRegistry

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


def measure(fetch: Callable[[], Any]) -> tuple[int, float, float]:
    """(records, records per second, peak MiB of Python allocations)."""
    start = time.perf_counter()
    count = consume(fetch)
    elapsed = time.perf_counter() - start
    tracemalloc.start()
    consume(fetch)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return count, count / elapsed, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    rows = parser.parse_args().rows
    registry = PluginRegistry()
    registry.load_entry_points(only="pylantir-csv")
    registry.load_entry_points(only="pylantir-json")
    configs = {
        "csv": ("csv", {}, frozenset(FIELDS)),
        "json": ("json", {"format": "array"}, frozenset()),
        "jsonl": ("json", {"format": "jsonl"}, frozenset()),
    }
    print(f"{'format':9} {'rows':>8} {'file MiB':>9} {'rows/s':>9} {'peak MiB':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in (rows // 10, rows):
            paths = write_files(Path(tmp), size)
            for fmt, (source_type, extra, fields) in configs.items():
                config = {"file_path": str(paths[fmt]), **extra}

                def fetch(source_type=source_type, config=config, fields=fields):
                    return registry.fetch_entries(source_type, "bench", config, fields, FetchState())

                count, rate, peak = measure(fetch)
                assert count == size, (fmt, count)
                file_mib = paths[fmt].stat().st_size / 2**20
                print(f"{fmt:9} {size:8} {file_mib:9.1f} {rate:9.0f} {peak:9.2f}")
            tracemalloc.start()
            with open(paths["json"], encoding="utf-8") as handle:
                json.load(handle)
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            print(f"{'json.load':9} {size:8} {paths['json'].stat().st_size / 2**20:9.1f} {'':>9} {peak:9.2f}")


if __name__ == "__main__":
    main()
