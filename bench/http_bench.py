"""The HTTP service's cost and speed: C-FIND latency of ``pylantir run`` with and without it, and the API's
worklist search.

Generates ``--items`` scheduled items (the harness's plan: 9 stations, 333 a day, 37 today on MR1), syncs
them from a CSV export with ``pylantir sync`` into a new SQLite file, copies it (one ``pylantir run`` per
SQLite file), then starts the installed ``pylantir run --no-sync`` on each copy, one with ``--no-http`` and
one with the HTTP service, and
times, alternating between the two processes (A B, B A, ...), one association per query:

- C-FIND station + today (what a modality asks), on both processes;
- ``GET /api/v1/worklist?station=MR1&date=today`` and ``?patient_id=...`` over HTTP (httpx, one keep-alive
  connection, a read token made with ``pylantir tokens create``), on the process that serves HTTP.

Both answers are checked against the generated items. Prints p50/p95 in milliseconds.

    python bench/http_bench.py [--items 10000] [--runs 30]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import _harness as h
import httpx

SOURCE = "bench"
PYLANTIR_AE = "PYLANTIR"


def copy_site(config: Path, directory: Path) -> Path:
    """A copy of the synced database with its own configuration file (the same sources)."""
    directory.mkdir()
    settings = json.loads(config.read_text())
    database = directory / "worklist.sqlite"
    shutil.copyfile(settings["database_url"].removeprefix("sqlite:///"), database)
    settings["database_url"] = f"sqlite:///{database}"
    copied = directory / "pylantir.json"
    copied.write_text(json.dumps(settings, indent=2))
    return copied


def read_token(config: Path) -> str:
    """A read token for the API (``pylantir tokens create``)."""
    created = subprocess.run([*h.pylantir_command(), "tokens", "create", "bench", "--role", "read", "--config",
                              str(config)], capture_output=True, text=True, timeout=120)
    if created.returncode != 0:
        raise h.BenchError(f"pylantir tokens create failed:\n{created.stderr}")
    return created.stdout.strip()


def wait_for_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(f"{url}/health", timeout=2)
            return
        except httpx.TransportError as exc:
            if time.monotonic() > deadline:
                raise h.BenchError(f"the HTTP service at {url} did not answer") from exc
            time.sleep(0.05)


def timed(send: Callable[[], int], runs: int, expected: int) -> list[float]:
    """``runs`` timings (ms) of ``send()``, each answer checked to hold ``expected`` items."""
    latencies = []
    for _ in range(runs):
        started = time.perf_counter()
        answered = send()
        latencies.append((time.perf_counter() - started) * 1000)
        if answered != expected:
            raise h.BenchError(f"an answer held {answered} items, {expected} expected")
    return latencies


def main() -> None:
    """Prepare the site, run both processes, time the queries, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--items", type=int, default=10_000, help="scheduled items (default 10000)")
    parser.add_argument("--runs", type=int, default=30, help="timed queries per kind (default 30)")
    options = parser.parse_args()
    print(h.machine())
    with tempfile.TemporaryDirectory(prefix="pylantir-bench-") as tmp:
        workdir = Path(tmp)
        config, items = h.synced_site(workdir, options.items, SOURCE)
        served_config = copy_site(config, workdir / "served")
        token = read_token(served_config)
        today = h.today_utc().strftime("%Y%m%d")
        station = h.STATIONS[0][0]
        on_station = sum(1 for item in items if item.date == today and item.station == station)
        patient = items[0].patient_id
        of_patient = sum(1 for item in items if item.patient_id == patient)
        identifier = h.worklist_query(date=today, station=station)
        plain_port, http_dicom_port, http_port = h.free_port(), h.free_port(), h.free_port()
        run = [*h.pylantir_command(), "run", "--no-sync", "--config"]
        plain = h.Service("pylantir run --no-http", [*run, str(config), "--no-http", "--port", str(plain_port)],
                          plain_port, workdir / "plain.log")
        served = h.Service("pylantir run (HTTP)",
                           [*run, str(served_config), "--port", str(http_dicom_port), "--http-port", str(http_port)],
                           http_dicom_port, workdir / "http.log")
        url = f"http://127.0.0.1:{http_port}"
        with plain, served:
            wait_for_http(url)
            finds: dict[int, list[float]] = {plain_port: [], http_dicom_port: []}
            for round_number in range(options.runs + 1):  # the first of each: warm-up, dropped below
                ports = list(finds) if round_number % 2 else list(finds)[::-1]  # A B, B A, ...: no order bias
                for port in ports:
                    finds[port] += timed(lambda port=port: len(h.find(port, PYLANTIR_AE, identifier)), 1,
                                         on_station)
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
                def search(**params: str) -> int:
                    answer = client.get("/api/v1/worklist", params={"limit": "1000", **params})
                    answer.raise_for_status()
                    return int(json.loads(answer.content)["total"])

                search(station=station, date="today")
                by_station = timed(lambda: search(station=station, date="today"), options.runs, on_station)
                by_patient = timed(lambda: search(patient_id=patient), options.runs, of_patient)
    rows = [
        ["C-FIND station + today, --no-http", on_station, *h.p50_p95(finds[plain_port][1:])],
        ["C-FIND station + today, HTTP on", on_station, *h.p50_p95(finds[http_dicom_port][1:])],
        ["API search station + today", on_station, *h.p50_p95(by_station)],
        ["API search patient ID", of_patient, *h.p50_p95(by_patient)],
    ]
    print(f"\n{options.items} items; {options.runs} runs per query")
    h.print_table(["query", "matches", "p50 ms", "p95 ms"],
                  [[label, matches, f"{p50:.1f}", f"{p95:.1f}"] for label, matches, p50, p95 in rows])


if __name__ == "__main__":
    try:
        main()
    except h.BenchError as error:
        sys.exit(f"error: {error}")
