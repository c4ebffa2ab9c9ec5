"""Wall time of ``pylantir config check`` (target: errors reported well within 2 s of start).

Usage: python bench/config_check.py [--runs N]
Checks the printed example (valid with the built-in plugins) and a file with errors, in subprocesses as a
user runs them; prints median and p95 in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pylantir.config.example import EXAMPLE_CONFIG, strip_comments

BROKEN = {
    "server": {"port": 0, "ae_titel": "X"},
    "timezone": "Nowhere",
    "data_sources": [{"name": "a", "type": "csv", "config": {}}, {"name": "a", "type": "cvs"}],
}


def wall_times(path: Path, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pylantir", "config", "check", str(path)], capture_output=True)
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        files = {
            "example (valid)": Path(tmp, "example.json"),
            "file errors": Path(tmp, "broken.json"),
            "plugin errors": Path(tmp, "plugin.json"),
        }
        files["example (valid)"].write_text(strip_comments(EXAMPLE_CONFIG))
        files["file errors"].write_text(json.dumps(BROKEN))
        files["plugin errors"].write_text(json.dumps({"data_sources": BROKEN["data_sources"][:1]}))
        print(f"{'pylantir config check':24} {'median ms':>10} {'p95 ms':>8}")
        for label, path in files.items():
            wall_times(path, 2)  # warm the file cache
            times = wall_times(path, runs)
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            print(f"{label:24} {statistics.median(times):10.1f} {p95:8.1f}")


if __name__ == "__main__":
    main()
