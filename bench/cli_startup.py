"""Wall time of CLI commands that must always start fast: ``--help`` and ``sources list``.

Usage: python bench/cli_startup.py [--runs N]   (uses the ``pylantir`` on PATH / in this interpreter)
Prints median and p95 per command, in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = [["--help"], ["sources", "list"], ["sources", "list", "--json"]]


def wall_times(args: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pylantir", *args], check=True, capture_output=True)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    print(f"{'command':32} {'median ms':>10} {'p95 ms':>8}")
    for args in COMMANDS:
        wall_times(args, 2)  # warm the file cache
        times = sorted(wall_times(args, runs))
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        print(f"{'pylantir ' + ' '.join(args):32} {statistics.median(times):10.1f} {p95:8.1f}")


if __name__ == "__main__":
    main()
