"""Pylantir against dcmtk's wlmscpfs on the same worklist: C-FIND latency, one association per query.

Generates ``--items`` scheduled items (9 stations over 5 modalities; 333 today, 37 of them on station MR1;
10,000 items span 60 days) and gives them to both servers as a site would: a CSV export synced into a new
SQLite file with ``pylantir sync``, and one dcmtk worklist file per item in a ``wlmscpfs`` data directory.
Then ``pylantir run --no-sync`` and ``wlmscpfs`` run side by side on free loopback ports, and the same
pynetdicom client (Nagle off, one association per query, the queries alternating between the servers) times:

- station + today: what a modality asks (date + Scheduled Station AE Title, ~37 matches);
- patient ID: one patient's steps (1-2 matches);
- today, every station: date only (~333 matches);
- today, every station, findscu: the same ~333 matches asked by a dcmtk ``findscu`` process (wall time, its
  start included), a client whose own work per response is far below the pynetdicom client's;
- universal, findscu: every item (wall time of a dcmtk ``findscu`` process).

Both servers must return the same items (checked by accession number); the script fails otherwise. It prints
p50/p95 in milliseconds per server, the speed-up (wlmscpfs p50 / Pylantir p50) beside the goal of issue 17,
each server's CPU per query (the Pylantir process; wlmscpfs with the children it forks per association) and
the client's (the pynetdicom client's threads, or the findscu process): on two cores the client's own work
per response bounds what any server's speed-up can be.

    python bench/compare_wlmscpfs.py [--items 10000] [--runs 30] [--findscu-runs 5]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import _harness as h

SOURCE = "bench"
PYLANTIR_AE = "PYLANTIR"
WLMSCPFS_AE = "WLMSCPFS"  # the name of the AE title directory in wlmscpfs' data directory


@dataclass
class Server:
    """One of the two servers under test, and what was measured on it."""

    name: str
    service: h.Service
    called_ae: str
    latencies: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    client_cpu: dict[str, float] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return self.service.port


@dataclass(frozen=True)
class Query:
    """A measured query: how to send it once to a server (returning the matched accession numbers)."""

    label: str
    expected: int
    goal: str
    send: Callable[[Server], list[str]]


def prepare(workdir: Path, count: int) -> tuple[Path, Path, list[h.Item]]:
    """The CSV synced with ``pylantir sync`` (checked) and the worklist files, written meanwhile."""
    items = list(h.generate_items(count, h.today_utc()))
    export = workdir / "export.csv"
    h.write_csv(export, items)
    config = h.write_config(workdir / "pylantir.json", workdir / "worklist.sqlite",
                            [h.file_source(SOURCE, "csv", export)])
    started = time.perf_counter()
    sync = subprocess.Popen([*h.pylantir_command(), "sync", "--config", str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    wl_root = workdir / "wlmscpfs"
    h.write_worklist_files(wl_root / WLMSCPFS_AE, items)
    stdout, stderr = sync.communicate()
    if sync.returncode != 0:
        raise h.BenchError(f"pylantir sync failed ({sync.returncode}):\n{stdout}\n{stderr}")
    summary = next((row for row in h.summary_table(stdout) if row.get("source") == SOURCE), {})
    if summary.get("inserted") != str(count):
        raise h.BenchError(f"pylantir sync stored {summary.get('inserted')} of {count} items:\n{stdout}\n{stderr}")
    print(f"prepared {count} items in {time.perf_counter() - started:.1f} s (CSV synced, {count} worklist files)")
    return config, wl_root, items


def dicom_query(label: str, goal: str, items: list[h.Item], **match: str) -> Query:
    """A query sent by the pynetdicom client; ``match`` holds the values matched (date, station, patient_id)."""
    identifier = h.worklist_query(**match)
    expected = sum(1 for item in items if all(getattr(item, key) == value for key, value in match.items()))

    def send(server: Server) -> list[str]:
        return [result.AccessionNumber for result in h.find(server.port, server.called_ae, identifier)]

    return Query(label, expected, goal, send)


def findscu_query(label: str, goal: str, items: list[h.Item], output: Path,
                  date: str = "") -> tuple[Query, Callable[[Server], list[str]]]:
    """A query sent by dcmtk's findscu (universal, or the steps of ``date``): the timed send, and a checking
    send that keeps the responses."""
    findscu = h.dcmtk_tool("findscu")
    keys = h.findscu_keys(date)
    expected = sum(1 for item in items if not date or item.date == date)

    def command(server: Server, *extra: str) -> list[str]:
        return [findscu, "-W", "-aet", h.CALLING_AE, "-aec", server.called_ae, *extra, "127.0.0.1",
                str(server.port), *keys]

    def run(args: list[str], server: Server) -> None:
        result = subprocess.run(args, capture_output=True, text=True, env=h.DCMTK_ENV, timeout=600)
        if result.returncode != 0:
            raise h.BenchError(f"findscu against {server.name} failed:\n{result.stdout}\n{result.stderr}")

    def send(server: Server) -> list[str]:
        run(command(server), server)
        return []  # not read back: keeping the responses would add their writing to the time

    def checked(server: Server) -> list[str]:
        from pydicom import dcmread

        directory = output / server.name / label.replace(" ", "-").replace(",", "")
        directory.mkdir(parents=True, exist_ok=True)
        run(command(server, "-X", "-od", str(directory)), server)
        return [dcmread(path).AccessionNumber for path in sorted(directory.glob("rsp*.dcm"))]

    return Query(label, expected, goal, send), checked


def verify(query: Query, servers: list[Server], send: Callable[[Server], list[str]]) -> None:
    """Both servers return exactly the expected number of items, and the same ones."""
    answers = {server.name: sorted(send(server)) for server in servers}
    first, *others = answers.values()
    for name, answer in answers.items():
        if len(answer) != query.expected:
            raise h.BenchError(f"{query.label}: {name} returned {len(answer)} items, {query.expected} expected")
    if any(other != first for other in others):
        raise h.BenchError(f"{query.label}: the servers returned different items")


def measure(query: Query, servers: list[Server], runs: int, check: bool) -> None:
    """``runs`` timed sends to each server in turn (A B A B ...), with each server's CPU over them."""
    before = {server.name: h.cpu_seconds(server.service.process.pid) for server in servers}  # type: ignore[union-attr]
    for server in servers:
        server.latencies[query.label] = []
        server.client_cpu[query.label] = 0.0
    for _ in range(runs):
        for server in servers:
            started, client_started = time.perf_counter(), client_cpu_seconds()
            answer = query.send(server)
            server.latencies[query.label].append((time.perf_counter() - started) * 1000)
            server.client_cpu[query.label] += (client_cpu_seconds() - client_started) * 1000 / runs
            if check and len(answer) != query.expected:
                raise h.BenchError(f"{query.label}: {server.name} returned {len(answer)} items, "
                                   f"{query.expected} expected")
    for server in servers:
        h.echo(server.port, server.called_ae)
    time.sleep(0.5)
    for server in servers:
        used = h.cpu_seconds(server.service.process.pid) - before[server.name]  # type: ignore[union-attr]
        server.cpu[query.label] = used * 1000 / runs


def client_cpu_seconds() -> float:
    """CPU seconds of the clients so far: this process (the pynetdicom client and its threads) and the findscu
    processes it has reaped (the servers, children too, are reaped only when they stop)."""
    return time.process_time() + sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2])


def report(queries: list[Query], pylantir: Server, wlmscpfs: Server) -> None:
    """The table: matches, both servers' p50/p95 and CPU, speed-up and goal."""
    rows = []
    for query in queries:
        ours, theirs = h.p50_p95(pylantir.latencies[query.label]), h.p50_p95(wlmscpfs.latencies[query.label])
        rows.append([
            query.label, query.expected, f"{ours[0]:.1f} / {ours[1]:.1f}", f"{theirs[0]:.1f} / {theirs[1]:.1f}",
            f"{theirs[0] / ours[0]:.2f}x", query.goal,
            f"{pylantir.cpu[query.label]:.1f} / {wlmscpfs.cpu[query.label]:.1f}",
            f"{pylantir.client_cpu[query.label]:.1f} / {wlmscpfs.client_cpu[query.label]:.1f}",
        ])
    h.print_table(["query", "matches", "Pylantir p50 / p95 ms", "wlmscpfs p50 / p95 ms", "speed-up", "goal",
                   "server CPU ms/query (P / w)", "client CPU ms/query (P / w)"], rows)


def main() -> None:
    """Prepare both servers, check they agree, time the queries, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--items", type=int, default=10_000, help="scheduled items (default 10000)")
    parser.add_argument("--runs", type=int, default=30, help="timed queries per server and query (default 30)")
    parser.add_argument("--findscu-runs", type=int, default=5, help="timed findscu universal queries (default 5)")
    options = parser.parse_args()
    print(h.machine())
    with tempfile.TemporaryDirectory(prefix="pylantir-bench-") as tmp:
        workdir = Path(tmp)
        config, wl_root, items = prepare(workdir, options.items)
        today = h.today_utc().strftime("%Y%m%d")
        queries = [
            dicom_query("station + today", ">= 10x", items, date=today, station=h.STATIONS[0][0]),
            dicom_query("patient ID", "-", items, patient_id=items[0].patient_id),
            dicom_query("today, every station", ">= 5x", items, date=today),
        ]
        responses = workdir / "responses"
        by_findscu = [findscu_query("today, every station, findscu", "-", items, responses, date=today),
                      findscu_query("universal, findscu", "> 1x", items, responses)]
        port, wl_port = h.free_port(), h.free_port()
        pylantir = Server("Pylantir", h.Service(
            "pylantir run",
            [*h.pylantir_command(), "run", "--no-sync", "--no-http", "--config", str(config), "--port", str(port)],
            port, workdir / "pylantir.log"), PYLANTIR_AE)
        wlmscpfs = Server("wlmscpfs", h.Service(
            "wlmscpfs", [h.dcmtk_tool("wlmscpfs"), "-dfp", str(wl_root), str(wl_port)], wl_port,
            workdir / "wlmscpfs.log", env=h.DCMTK_ENV), WLMSCPFS_AE)
        servers = [pylantir, wlmscpfs]
        with pylantir.service, wlmscpfs.service:
            for query in queries:
                verify(query, servers, query.send)  # also the warm-up
                measure(query, servers, options.runs, check=True)
            for query, checked in by_findscu:
                verify(query, servers, checked)
                measure(query, servers, options.findscu_runs, check=False)
        print(f"\n{options.items} items; station + today on {h.STATIONS[0][0]}; {options.runs} runs per query "
              f"({options.findscu_runs} for findscu) per server")
        report([*queries, *(query for query, _ in by_findscu)], pylantir, wlmscpfs)


if __name__ == "__main__":
    try:
        main()
    except h.BenchError as error:
        sys.exit(f"error: {error}")
