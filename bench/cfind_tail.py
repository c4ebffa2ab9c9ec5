"""The tail of C-FIND latency: many station + today queries against ``pylantir run``, p50 to the slowest.

Generates ``--items`` scheduled items (the site of ``compare_wlmscpfs.py``), syncs them from a CSV export into a
new SQLite file with ``pylantir sync``, then starts ``pylantir run --no-sync`` (its HTTP service on, as a site
runs it) and sends ``--queries`` station + today queries (~37 matches) from the pynetdicom client, one
association per query, back to back, after a warm-up. Printed: p50, p95, p99 and the slowest in milliseconds,
and the server's CPU per query. What happens once in many associations (the collector's full passes,
a checkpoint) shows in p99 and the slowest, not in the p50 that ``compare_wlmscpfs.py`` reports.

    python bench/cfind_tail.py [--items 10000] [--queries 300] [--rounds 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import _harness as h

SOURCE = "bench"
STATION = "MR1"
WARM_UP = 10


def one_round(workdir: Path, config: Path, expected: int, queries: int, round_number: int) -> list[str]:
    """One ``pylantir run``: the warm-up, the timed queries (each must match ``expected`` items); the printed
    row."""
    port, http_port = h.free_port(), h.free_port()
    identifier = h.worklist_query(date=h.today_utc().strftime("%Y%m%d"), station=STATION)
    command = [*h.pylantir_command(), "run", "--no-sync", "--port", str(port), "--http-port", str(http_port),
               "--config", str(config)]
    with h.Service("pylantir run", command, port, workdir / f"run-{round_number}.log") as service:
        assert service.process is not None
        for _ in range(WARM_UP):
            h.find(port, "PYLANTIR", identifier)
        cpu_before = h.cpu_seconds(service.process.pid)
        latencies = []
        for _ in range(queries):
            started = time.perf_counter()
            matches = len(h.find(port, "PYLANTIR", identifier))
            latencies.append((time.perf_counter() - started) * 1000)
            if matches != expected:
                raise h.BenchError(f"a query matched {matches} items, {expected} expected")
        cpu = (h.cpu_seconds(service.process.pid) - cpu_before) * 1000 / queries
    return [str(round_number + 1), str(expected), *(f"{h.percentile(latencies, q):.1f}" for q in (0.5, 0.95, 0.99)),
            f"{max(latencies):.1f}", f"{cpu:.1f}"]


def main() -> None:
    """Prepare the site, run the rounds, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--items", type=int, default=10_000, help="scheduled items (default 10000)")
    parser.add_argument("--queries", type=int, default=300, help="timed queries per round (default 300)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, each with its own pylantir run (default 2)")
    options = parser.parse_args()
    print(h.machine())
    with tempfile.TemporaryDirectory(prefix="pylantir-bench-") as tmp:
        workdir = Path(tmp)
        config, items = h.synced_site(workdir, options.items, SOURCE)
        today = h.today_utc().strftime("%Y%m%d")
        expected = sum(1 for item in items if item.date == today and item.station == STATION)
        rows = [one_round(workdir, config, expected, options.queries, n) for n in range(options.rounds)]
    print(f"\n{options.items} items; station + today on {STATION}, one association per query, "
          f"{options.queries} queries per round")
    h.print_table(["round", "matches", "p50 ms", "p95 ms", "p99 ms", "slowest ms", "server CPU ms/query"], rows)


if __name__ == "__main__":
    try:
        main()
    except h.BenchError as error:
        sys.exit(f"error: {error}")
