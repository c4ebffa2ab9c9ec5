"""Several ``pylantir run`` instances on one PostgreSQL database, against one instance, side by side.

Three CSV sources of ``--rows`` generated items each (the site of ``compare_wlmscpfs.py``, split in three) on a
new PostgreSQL database per phase, created on the server of ``--postgres-url`` and dropped after:

1. **sync throughput**: the first sync of the three sources by 1 instance (which leads all three), then by 3
   instances (one source each, once they spread); the rows of the three first syncs over the time from the
   first one's start to the last one's end (from ``sync_runs``);
2. **C-FIND latency under the same load**: then ``--clients`` client processes loop the typical modality
   query (today + their own station, one association per query) for ``--seconds``, spread round robin over
   the instances (all on the one instance with 1); p50, p95 and queries per second;
3. **takeover**: 3 instances; the leader of a source (``pylantir sources status``) is killed with SIGKILL
   while it syncs ``--rows`` rows; the time until another instance holds the source's leadership (PostgreSQL's
   ``pg_locks``) and until its sync of the source starts (``sync_runs``); ``--runs`` times, an instance
   started again each time.

    python bench/cluster_bench.py [--postgres-url postgresql+psycopg2://postgres@127.0.0.1:5432/postgres]
        [--rows 30000] [--clients 8] [--seconds 10] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import _harness as h
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

SOURCES = ("ris", "lab", "cardio")
#: Seconds between syncs (an unchanged export makes a sync cheap): the phases of sync and queries, takeover.
SPREAD_INTERVAL = 5.0
TAKEOVER_INTERVAL = 2.0


@contextmanager
def new_database(admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database (its URL), dropped after."""
    name = f"pylantir_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def site_items(rows: int, variant: int = 0) -> list[list[h.Item]]:
    """The items of each source: ``rows`` each, distinct (``variant`` changes every step description)."""
    items = list(h.generate_items(rows * len(SOURCES), h.today_utc(), 1.0 if variant else 0.0, variant))
    return [items[number::len(SOURCES)] for number in range(len(SOURCES))]


def write_exports(directory: Path, rows: int, variant: int = 0) -> None:
    for name, items in zip(SOURCES, site_items(rows, variant), strict=True):
        h.write_csv(directory / f"{name}.csv", items)


def write_site(directory: Path, database_url: str, interval: float) -> Path:
    """The configuration of the three sources (their exports are written later)."""
    sources = [h.file_source(name, "csv", directory / f"{name}.csv", interval) | {"timeout": 3600}
               for name in SOURCES]
    config = h.write_config(directory / "pylantir.json", directory / "unused.sqlite", sources)
    settings = json.loads(config.read_text())
    settings["database_url"] = database_url
    config.write_text(json.dumps(settings, indent=2))
    h.run_checked([*h.pylantir_command(), "db", "upgrade", "--config", str(config)], "pylantir db upgrade")
    return config


def leaders(config: Path) -> dict[str, int]:
    """Each led source's leader PID (``pylantir sources status --json``)."""
    status = h.run_checked([*h.pylantir_command(), "sources", "status", "--config", str(config), "--json"],
                           "pylantir sources status")
    return {entry["name"]: int(entry["leader"].split()[1]) for entry in json.loads(status.stdout) if entry["leader"]}


@cache
def http_port_option() -> bool:
    """Whether ``pylantir run`` serves HTTP (``--http-port``): each instance then gets a port of its own."""
    usage = subprocess.run([*h.pylantir_command(), "run", "--help"], capture_output=True, text=True, timeout=60)
    return "--http-port" in usage.stdout


def start_instances(directory: Path, config: Path, count: int, first: int = 0) -> list[h.Service]:
    """``count`` instances of ``pylantir run`` on the configuration, each on its own ports."""
    services = []
    for number in range(first, first + count):
        port = h.free_port()
        http = ["--http-port", str(h.free_port())] if http_port_option() else []
        command = [*h.pylantir_command(), "run", "--config", str(config), "--port", str(port), *http]
        services.append(h.Service(f"instance {number}", command, port, directory / f"instance-{number}.log").start())
    return services


def wait_for(check: Any, timeout: float, what: str, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(every)
    raise h.BenchError(f"timed out after {timeout:g} s waiting for {what}")


def first_syncs(engine: Engine) -> tuple[float, int] | None:
    """Seconds from the start of the first sync that wrote rows to the end of the last, and their rows, once
    each source has one."""
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT min(started_at), max(finished_at), sum(inserted), count(DISTINCT source_name) FROM sync_runs "
            "WHERE outcome = 'success' AND inserted > 0")).one()
    if rows[3] != len(SOURCES):
        return None
    return (rows[1] - rows[0]).total_seconds(), int(rows[2])


def query_client(ports: list[int], station: str, today: str, seconds: float, results: Any) -> None:
    """Loop the typical query over ``ports`` in turn for ``seconds``; put (latency, matches) per query."""
    deadline = time.monotonic() + seconds
    latencies, counts, number = [], set(), 0
    while time.monotonic() < deadline:
        port = ports[number % len(ports)]
        number += 1
        started = time.perf_counter()
        matches = h.find(port, "PYLANTIR", h.worklist_query(date=today, station=station))
        latencies.append(time.perf_counter() - started)
        counts.add(len(matches))
    results.put((latencies, sorted(counts)))


def query_load(ports: list[int], clients: int, seconds: float) -> tuple[float, float, float, list[list[int]]]:
    """p50 and p95 latency (ms), queries per second, and the distinct match counts per client."""
    today = h.today_utc().strftime("%Y%m%d")
    results: Any = multiprocessing.Queue()
    processes = [multiprocessing.Process(target=query_client, args=(
        ports, h.STATIONS[n % len(h.STATIONS)][0], today, seconds, results)) for n in range(clients)]
    for process in processes:
        process.start()
    collected = [results.get(timeout=seconds + 120) for _ in processes]
    for process in processes:
        process.join()
    latencies = [latency for client, _ in collected for latency in client]
    p50, p95 = h.p50_p95(latencies)
    return p50 * 1000, p95 * 1000, len(latencies) / seconds, [counts for _, counts in collected]


def throughput_and_latency(options: argparse.Namespace, count: int) -> dict[str, Any]:
    """Phases 1 and 2 with ``count`` instances: they start on exports that do not exist yet and spread the
    sources; then the exports are written, and each leader syncs its sources on their next interval."""
    with tempfile.TemporaryDirectory(prefix="pylantir-cluster-") as scratch, \
            new_database(options.postgres_url) as url:
        directory = Path(scratch)
        config = write_site(directory, url, SPREAD_INTERVAL)
        engine = create_engine(url)
        services = start_instances(directory, config, count)
        try:
            wait_for(lambda: (led := leaders(config)) and len(led) == len(SOURCES)
                     and len(set(led.values())) == min(count, len(SOURCES)), 120, "the sources to spread", every=0.5)
            write_exports(directory, options.rows)
            seconds, synced = wait_for(lambda: first_syncs(engine), 3600, "the first syncs", every=0.2)
            if synced != options.rows * len(SOURCES):
                raise h.BenchError(f"the first syncs inserted {synced} rows, not {options.rows * len(SOURCES)}")
            p50, p95, rate, counts = query_load([s.port for s in services], options.clients, options.seconds)
        finally:
            for service in services:
                service.stop()
            engine.dispose()
    if any(len(client) != 1 for client in counts):
        raise h.BenchError(f"a client got different answers to the same query: {counts}")
    return {"instances": count, "rows": synced, "sync_seconds": seconds, "rows_per_second": synced / seconds,
            "p50_ms": p50, "p95_ms": p95, "queries_per_second": rate}


def lock_holder(engine: Engine, source_lock: tuple[int, int]) -> str | None:
    """The ``application_name`` of the session holding the source's leadership lock."""
    with engine.connect() as connection:
        return connection.scalar(text(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = :high AND l.objid::bigint = :low"),
            {"high": source_lock[0], "low": source_lock[1]})


def lock_of(engine: Engine, pid: int) -> tuple[int, int]:
    """The (classid, objid) of the one leadership lock held by the instance ``pid`` (it leads one source)."""
    with engine.connect() as connection:
        high, low = connection.execute(text(
            "SELECT l.classid::bigint, l.objid::bigint FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE :name"),
            {"name": f"% {pid} %"}).one()
    return int(high), int(low)


def takeovers(options: argparse.Namespace) -> list[tuple[float, float]]:
    """Phase 3: (seconds to the new leader's lock, seconds to its sync's start) per run."""
    measured = []
    with tempfile.TemporaryDirectory(prefix="pylantir-takeover-") as scratch, \
            new_database(options.postgres_url) as url:
        directory = Path(scratch)
        config = write_site(directory, url, TAKEOVER_INTERVAL)
        write_exports(directory, options.rows)
        engine = create_engine(url)
        services = start_instances(directory, config, 3)
        try:
            for run in range(options.runs):
                measured.append(one_takeover(engine, config, directory, services, options.rows, run))
        finally:
            for service in services:
                service.stop()
            engine.dispose()
    return measured


def one_takeover(engine: Engine, config: Path, directory: Path, services: list[h.Service], rows: int,
                 run: int) -> tuple[float, float]:
    """Kill the leader of 'ris' while it syncs a new version of its export; start a new instance after."""
    spread = wait_for(lambda: (led := leaders(config)) and len(set(led.values())) == len(SOURCES) and led, 120,
                      "one source per instance", every=0.5)
    victim_pid = spread["ris"]
    # a new version of the export: the leader's next sync rewrites every row
    h.write_csv(directory / "ris.csv", site_items(rows, run + 1)[0])
    last = wait_for(lambda: _open_run(engine, victim_pid), 600, "the leader's sync of 'ris'", every=0.02)
    lock = lock_of(engine, victim_pid)
    victim = next(s for s in services if s.process is not None and s.process.pid == victim_pid)
    os.kill(victim_pid, signal.SIGKILL)
    killed, killed_at = time.monotonic(), datetime.now(UTC)
    victim.process.wait()  # type: ignore[union-attr]
    wait_for(lambda: _taken(engine, lock, victim_pid), 120, "a new leader", every=0.01)
    locked = time.monotonic() - killed
    started = wait_for(lambda: _run_after(engine, last), 120, "the new leader's sync", every=0.01)
    services.remove(victim)
    services += start_instances(directory, config, 1, first=3 + run)
    return locked, (started - killed_at).total_seconds()


def _taken(engine: Engine, lock: tuple[int, int], victim_pid: int) -> bool:
    holder = lock_holder(engine, lock)
    return holder is not None and f" {victim_pid} " not in holder


def _open_run(engine: Engine, pid: int) -> int | None:
    """The run of 'ris' that instance ``pid`` has under way, once it has fetched rows (so it writes soon)."""
    with engine.connect() as connection:
        found = connection.scalar(text(
            "SELECT id FROM sync_runs WHERE source_name = 'ris' AND outcome = 'running' AND pid = :pid"),
            {"pid": pid})
    return int(found) if found is not None else None


def _run_after(engine: Engine, run_id: int) -> datetime | None:
    with engine.connect() as connection:
        started = connection.scalar(text(
            "SELECT started_at FROM sync_runs WHERE source_name = 'ris' AND id > :id ORDER BY id LIMIT 1"),
            {"id": run_id})
    return started.replace(tzinfo=UTC) if started is not None and started.tzinfo is None else started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres-url", default=os.environ.get(
        "PYLANTIR_BENCH_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"),
        help="a server where the benchmark may create (and drop) databases")
    parser.add_argument("--rows", type=int, default=30_000, help="items per source (three sources)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of queries per instance count")
    parser.add_argument("--runs", type=int, default=3, help="takeovers measured")
    options = parser.parse_args()
    try:
        phases = [throughput_and_latency(options, count) for count in (1, 3)]
        print(h.machine())
        print(f"three CSV sources of {options.rows} rows on one PostgreSQL database; {options.clients} query "
              f"clients for {options.seconds:g} s\n")
        h.print_table(
            ["instances", "first sync of all rows", "rows/s", "C-FIND p50", "C-FIND p95", "queries/s"],
            [[p["instances"], f"{p['sync_seconds']:.1f} s ({p['rows']} rows)", f"{p['rows_per_second']:.0f}",
              f"{p['p50_ms']:.1f} ms", f"{p['p95_ms']:.1f} ms", f"{p['queries_per_second']:.0f}"] for p in phases],
        )
        print(flush=True)
        taken = takeovers(options)
    except h.BenchError as exc:
        sys.exit(f"cluster_bench: {exc}")
    h.print_table(["takeover after SIGKILL mid-sync", "median (min-max)"], [
        ["new leader holds the lock", h.spread([locked for locked, _ in taken])],
        ["new leader's sync starts", h.spread([started for _, started in taken])],
    ])


if __name__ == "__main__":
    main()
