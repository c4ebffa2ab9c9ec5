"""``pylantir sync`` as a site runs it: a large export into an empty SQLite file, then an unchanged re-sync.

The same ``--rows`` generated scheduled items (the site of ``compare_wlmscpfs.py``) are written as a CSV
export, as JSON Lines and as a JSON array. For each format, ``--runs`` times, in turn with the other formats:

- first sync: ``pylantir sync`` into a new SQLite file (the schema is created, every row inserted);
- re-sync: ``pylantir sync`` again, nothing changed (every row read and compared, none written).

Each is the installed console script as a process; printed: its wall time, CPU time and peak RSS (the
process's own, from ``wait4``) and the seconds the sync itself reports, median (min-max) over the runs,
beside the goals of issue 17. The counts ``pylantir sync`` prints are checked (all inserted, then all
unchanged).

    python bench/sync_cli.py [--rows 100000] [--runs 3] [--formats csv,jsonl,json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import _harness as h

SOURCE = "bench"
GOALS = {"first sync": "< 3 s, < 150 MiB", "re-sync": "< 1 s"}
#: What the summary of each scenario must say, given the number of rows.
EXPECTED = {
    "first sync": lambda rows: {"inserted": rows, "updated": 0, "rejected": 0},
    "re-sync": lambda rows: {"unchanged": rows, "inserted": 0, "updated": 0, "rejected": 0},
}


def sync_once(config: Path, scenario: str, rows: int) -> tuple[h.Measured, float]:
    """One ``pylantir sync`` process, its counts checked; its measures and the seconds it reported."""
    result = h.run_checked([*h.pylantir_command(), "sync", "--config", str(config)], f"pylantir sync ({scenario})")
    summary = h.sync_summary(result, SOURCE)
    for column, expected in EXPECTED[scenario](rows).items():
        if summary.get(column) != str(expected):
            raise h.BenchError(f"{scenario}: {column} = {summary.get(column)}, expected {expected}:\n{result.stdout}")
    return result, float(summary["seconds"])


def main() -> None:
    """Write the exports, run the syncs, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--rows", type=int, default=100_000, help="rows of each export (default 100000)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each scenario (default 3)")
    parser.add_argument("--formats", default="csv,jsonl,json", help="export formats (default csv,jsonl,json)")
    options = parser.parse_args()
    formats = options.formats.split(",")
    unknown = [name for name in formats if name not in h.WRITERS]
    if unknown:
        parser.error(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(h.WRITERS)}")
    print(h.machine())
    measured: dict[tuple[str, str], list[tuple[h.Measured, float]]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="pylantir-bench-") as tmp:
        workdir = Path(tmp)
        exports = {}
        for name in formats:
            exports[name] = workdir / f"export.{name}"
            h.WRITERS[name](exports[name], h.generate_items(options.rows, h.today_utc()))
            print(f"{name}: {options.rows} rows, {exports[name].stat().st_size / 2**20:.1f} MiB")
        for run in range(options.runs):
            for name in formats:
                database = workdir / f"{name}-{run}.sqlite"
                config = h.write_config(workdir / f"{name}.json", database,
                                        [h.file_source(SOURCE, name, exports[name])])
                for scenario in EXPECTED:
                    measured[name, scenario].append(sync_once(config, scenario, options.rows))
    print(f"\n{options.rows} rows into SQLite, {options.runs} runs: median (min-max)")
    rows = []
    for (name, scenario), results in measured.items():
        rows.append([
            name, scenario, h.spread([r.wall for r, _ in results]), h.spread([s for _, s in results]),
            h.spread([r.cpu for r, _ in results]), h.spread([r.peak_mib for r, _ in results], "MiB", 0),
            GOALS[scenario],
        ])
    h.print_table(["format", "scenario", "wall", "sync reports", "CPU", "peak RSS", "goal"], rows)


if __name__ == "__main__":
    try:
        main()
    except h.BenchError as error:
        sys.exit(f"error: {error}")
