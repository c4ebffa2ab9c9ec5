"""A re-sync inside ``pylantir run`` while modalities query it, against the same re-sync alone.

A CSV export of ``--rows`` generated items (the site of ``compare_wlmscpfs.py``) is synced into a new SQLite
file with ``pylantir sync``. A re-sync then means: the export is replaced by the other of two versions of it,
which differ in the step description of ``--changed`` of the rows (the same items, matching the same queries),
so that every re-sync reads every row and rewrites the changed ones. It is timed three ways, ``--runs`` each:

1. alone, as a process: ``pylantir sync`` (wall time, and the seconds it reports);
2. alone, inside ``pylantir run`` with no client: the duration the run logs for the sync;
3. inside the same ``pylantir run`` while ``--clients`` client processes loop the typical modality query
   (today + their own station, one association per query, pynetdicom), back to back.

The clients share the machine's cores with ``pylantir run`` and its sync worker, and each takes more CPU per
query than the server does. ``--client-nice 19`` runs them at the lowest priority, so that they take what
the server leaves, as modalities on their own machines do; their latencies then include their own waits for
a core.

The source is polled every 2 s with ``watch_for_changes``, so a sync does real work only after the export was
replaced: the script decides when. During phase 3, each query's latency is classed "during a sync" when it
overlaps one (from the sync's logged end and duration), else "outside"; an answer with another number of
matches than the generator put on that station today is a wrong answer (0 matches: an item that exists was
not returned). Printed beside the goals of issue 17: re-sync under load within 2x of alone, C-FIND p95 during
a sync within 2x of p95 outside one.

    python bench/run_under_load.py [--rows 100000] [--clients 8] [--runs 3] [--changed 0.1] [--settle 10]
                                   [--client-nice 0]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import re
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _harness as h

SOURCE = "bench"
POLL_INTERVAL = 2  # s: the source's sync_interval; with watch_for_changes, a poll of an unchanged file is cheap
#: The line ``pylantir run`` logs when a sync ends: source, outcome, counts, duration.
SYNC_LINE = re.compile(
    r"sync of source '(?P<source>[^']+)'.*?: (?P<outcome>\w+), .*?fetched=(?P<fetched>\d+).*? in (?P<seconds>[\d.]+) s"
)


@dataclass(frozen=True)
class Sync:
    """A sync that did work, as ``pylantir run`` logged it: when it ended (monotonic s) and how long it took."""

    ended: float
    seconds: float

    @property
    def started(self) -> float:
        return self.ended - self.seconds


class SyncLog(threading.Thread):
    """Follows ``pylantir run``'s log file and hands over each sync of ``SOURCE`` that fetched rows."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.path = path
        self.syncs: queue.Queue[Sync] = queue.Queue()
        self.failures: list[str] = []
        self._stop = threading.Event()

    def run(self) -> None:
        with self.path.open(errors="replace") as log:
            while not self._stop.is_set():
                line = log.readline()
                if not line:
                    time.sleep(0.02)
                    continue
                match = SYNC_LINE.search(line)
                if match is None or match["source"] != SOURCE:
                    continue
                if match["outcome"] not in ("success", "unchanged"):
                    self.failures.append(line.strip())
                elif int(match["fetched"]):
                    self.syncs.put(Sync(time.monotonic(), float(match["seconds"])))

    def next_sync(self, timeout: float) -> Sync:
        """The next sync that fetched rows; :class:`BenchError` after ``timeout`` s or on a failed sync."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.failures:
                raise h.BenchError(f"a sync inside pylantir run failed: {self.failures[0]}")
            try:
                return self.syncs.get(timeout=0.5)
            except queue.Empty:
                continue
        raise h.BenchError(f"no sync of {SOURCE!r} ended within {timeout:.0f} s of replacing the export")

    def stop(self) -> None:
        self._stop.set()


def client(port: int, station: str, today: str, nice: int, stop: Any, results: Any) -> None:
    """A modality: the typical query in a loop, one association each, at niceness ``nice``, until ``stop``;
    then its records (start, latency ms, matches or -1 on an error) into ``results``."""
    os.nice(nice)
    identifier = h.worklist_query(date=today, station=station)
    records = []
    while not stop.is_set():
        started = time.monotonic()
        try:
            matches = len(h.find(port, "PYLANTIR", identifier))
        except Exception:  # noqa: BLE001 - a failed query is counted, not fatal
            matches = -1
        records.append((started, (time.monotonic() - started) * 1000, matches))
    results.put((station, records))


def collect(results: Any, clients: int) -> dict[str, list[tuple[float, float, int]]]:
    """Every client's records, by station; :class:`BenchError` when a client did not report."""
    try:
        return dict(results.get(timeout=120) for _ in range(clients))
    except queue.Empty:
        raise h.BenchError("a client process ended without reporting its queries") from None


class Export:
    """The source's CSV export, switched between its two versions."""

    def __init__(self, path: Path, rows: int, changed: float):
        self.path, self.rows, self.changed = path, rows, changed
        self.variant = 0
        self.write()

    def write(self) -> None:
        h.write_csv(self.path, h.generate_items(self.rows, h.today_utc(), self.changed, self.variant))

    def switch(self) -> None:
        """Replace the export (atomically) by the other version."""
        self.variant = 1 - self.variant
        self.write()


def resync_with_cli(config: Path, export: Export, expected_updates: int) -> tuple[float, float]:
    """One re-sync by a ``pylantir sync`` process: wall seconds and the seconds it reported."""
    export.switch()
    result = h.run_checked([*h.pylantir_command(), "sync", "--config", str(config)], "pylantir sync")
    summary = h.sync_summary(result, SOURCE)
    if summary.get("updated") != str(expected_updates):
        raise h.BenchError(f"re-sync updated {summary.get('updated')} rows, {expected_updates} expected")
    return result.wall, float(summary["seconds"])


def resync_in_run(log: SyncLog, export: Export, timeout: float) -> Sync:
    """Replace the export and wait for ``pylantir run`` to sync it."""
    export.switch()
    return log.next_sync(timeout)


@dataclass(frozen=True)
class Answer:
    """One query of a client: its latency (ms), the matches returned (-1: it failed), the matches expected."""

    latency: float
    matches: int
    expected: int


OUTSIDE, DURING = "outside a sync", "during a sync"


def classify(records: dict[str, list[tuple[float, float, int]]], expected: dict[str, int],
             syncs: list[Sync]) -> dict[str, list[Answer]]:
    """Every client's answers, :data:`DURING` when the query overlapped one of ``syncs``, else :data:`OUTSIDE`."""
    classes: dict[str, list[Answer]] = {OUTSIDE: [], DURING: []}
    for station, station_records in records.items():
        for started, latency, matches in station_records:
            ended = started + latency / 1000
            during = any(started < sync.ended and ended > sync.started for sync in syncs)
            classes[DURING if during else OUTSIDE].append(Answer(latency, matches, expected[station]))
    return classes


def main() -> None:
    """Prepare the export and database, run the three phases, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the export (default 100000)")
    parser.add_argument("--clients", type=int, default=8, help="querying client processes (default 8)")
    parser.add_argument("--runs", type=int, default=3, help="re-syncs timed in each phase (default 3)")
    parser.add_argument("--changed", type=float, default=0.1, help="share of rows a re-sync rewrites (default 0.1)")
    parser.add_argument("--settle", type=float, default=10, help="s of queries before and after each loaded sync")
    parser.add_argument("--client-nice", type=int, default=0,
                        help="niceness of the client processes (default 0; 19: they take what pylantir leaves)")
    parser.add_argument("--timeout", type=float, default=900, help="s to wait for one sync inside run")
    options = parser.parse_args()
    if not 0 <= options.changed <= 1:
        parser.error("--changed must be between 0 and 1")
    print(h.machine())
    today = h.today_utc()
    items = list(h.generate_items(options.rows, today))
    every = round(1 / options.changed) if options.changed else 0
    expected_updates = sum(1 for item in items if every and item.number % every == 0)
    stations = [h.STATIONS[index % len(h.STATIONS)][0] for index in range(options.clients)]
    expected = {station: sum(1 for i in items if i.station == station and i.date == today.strftime("%Y%m%d"))
                for station in stations}
    del items
    with tempfile.TemporaryDirectory(prefix="pylantir-bench-") as tmp:
        workdir = Path(tmp)
        export = Export(workdir / "export.csv", options.rows, options.changed)
        port = h.free_port()
        config = h.write_config(workdir / "pylantir.json", workdir / "worklist.sqlite", [
            h.file_source(SOURCE, "csv", export.path, sync_interval=POLL_INTERVAL, watch_for_changes=True)
        ], port=port)
        first = h.run_checked([*h.pylantir_command(), "sync", "--config", str(config)], "the first pylantir sync")
        print(f"first sync of {options.rows} rows: {first.wall:.1f} s; each re-sync rewrites {expected_updates} rows")

        cli = [resync_with_cli(config, export, expected_updates) for _ in range(options.runs)]
        service = h.Service("pylantir run", [*h.pylantir_command(), "run", "--config", str(config), "--no-http"], port,
                            workdir / "run.log")
        (workdir / "run.log").touch()
        log = SyncLog(workdir / "run.log")
        log.start()
        context = multiprocessing.get_context("spawn")
        stop, results = context.Event(), context.Queue()
        with service:
            alone = [resync_in_run(log, export, options.timeout) for _ in range(options.runs)]
            clients = [context.Process(target=client, args=(port, station, today.strftime("%Y%m%d"),
                                                                   options.client_nice, stop, results))
                       for station in stations]
            for process in clients:
                process.start()
            try:
                time.sleep(options.settle)
                loaded = []
                for _ in range(options.runs):
                    loaded.append(resync_in_run(log, export, options.timeout))
                    time.sleep(options.settle)
            finally:
                stop.set()
                records = collect(results, len(clients))
                for process in clients:
                    process.join(30)
        log.stop()
    report(options, cli, alone, loaded, records, expected)


def report(options: argparse.Namespace, cli: list[tuple[float, float]], alone: list[Sync], loaded: list[Sync],
           records: dict[str, list[tuple[float, float, int]]], expected: dict[str, int]) -> None:
    """The two tables: re-sync durations, then C-FIND latency and correctness outside and during syncs."""
    print(f"\nre-sync of {options.rows} rows ({options.changed:.0%} changed), {options.runs} runs: median (min-max)")
    base = h.percentile([s.seconds for s in alone], 0.5)
    under = h.percentile([s.seconds for s in loaded], 0.5)
    h.print_table(["re-sync", "duration", "vs alone in run", "goal"], [
        ["pylantir sync process, alone (reported)", h.spread([s for _, s in cli]), "", ""],
        ["pylantir sync process, alone (wall)", h.spread([w for w, _ in cli]), "", ""],
        ["inside pylantir run, no client", h.spread([s.seconds for s in alone]), "1.00x", ""],
        [f"inside pylantir run, {options.clients} clients", h.spread([s.seconds for s in loaded]),
         f"{under / base:.2f}x", "<= 2x"],
    ])
    print(f"\nC-FIND today + own station, {options.clients} clients at niceness {options.client_nice}, "
          f"one association per query (~{max(expected.values())} matches)")
    rows, p95s = [], {}
    for name, answers in classify(records, expected, loaded).items():
        answered = [answer for answer in answers if answer.matches >= 0]
        p50, p95s[name] = h.p50_p95([answer.latency for answer in answered])
        rows.append([name, len(answers), f"{p50:.1f}", f"{p95s[name]:.1f}",
                     sum(1 for answer in answered if answer.matches != answer.expected),
                     sum(1 for answer in answered if answer.matches == 0), len(answers) - len(answered)])
    h.print_table(["queries", "count", "p50 ms", "p95 ms", "wrong answers", "of them 0 matches", "errors"], rows)
    print(f"p95 during a sync / p95 outside: {p95s[DURING] / p95s[OUTSIDE]:.2f}x (goal <= 2x)")

if __name__ == "__main__":
    try:
        main()
    except h.BenchError as error:
        sys.exit(f"error: {error}")
