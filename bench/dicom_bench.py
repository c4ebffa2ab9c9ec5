"""DICOM server benchmark: Modality Worklist C-FIND latency at 1k / 10k / 100k scheduled items.

The server runs in its own process on a fresh SQLite file; clients are pynetdicom requestors in other
processes. Items are spread ~50 per day, so result sizes are the same at every scale:
- typical query: today + modality + Scheduled Station AE Title, usual return keys (~5 matches);
- universal query: every return key (empty SPS item = whole sequence) for one day (~50 matches).
Each is measured on an open association, 1 client and 8 concurrent clients (p50/p95, ms), plus the typical
query with association setup and release around it (what a modality does). ``--untuned`` runs with
pynetdicom's defaults (Nagle on at both ends, identifier formatting and standard logging handlers on in the
server), to show what those settings buy.

    python bench/dicom_bench.py [--sizes 1000,10000,100000] [--queries 200] [--untuned]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pydicom import Dataset
from pydicom.sequence import Sequence
from pynetdicom.sop_class import ModalityWorklistInformationFind
from sqlalchemy import insert

from pylantir.config import PylantirConfig
from pylantir.dicom.client import Peer, association, find_on, worklist_identifier
from pylantir.store import Database, WorklistItem

PER_DAY = 50
MODALITIES = ("MR", "CT", "US", "XR", "NM")
STATIONS = 2  # per modality: MR1, MR2, CT1...


def fill(url: str, count: int) -> str:
    """Insert ``count`` items around today; return today's date (YYYYMMDD)."""
    database = Database.open(url)
    today = date.today()
    first = today - timedelta(days=count // PER_DAY // 2)
    rows: list[dict[str, Any]] = []
    for n in range(count):
        day = (first + timedelta(days=n // PER_DAY)).strftime("%Y%m%d")
        slot = n % PER_DAY
        modality = MODALITIES[slot % len(MODALITIES)]
        start_time = f"{8 + slot // 5:02d}{(slot % 5) * 10:02d}00"
        rows.append({
            "identity": f"bench:{n}", "source_name": "bench", "content_hash": "x", "patient_id": f"P{n:07d}",
            "patient_name": f"Bench^Patient{n}", "patient_birth_date": "19700101", "patient_sex": "O",
            "study_instance_uid": f"1.2.826.0.1.3680043.10.999.{n}", "accession_number": f"A{n:07d}",
            "requested_procedure_id": f"RP{n}", "scheduled_procedure_step_id": f"SPS{n}", "modality": modality,
            "scheduled_station_aetitle": f"{modality}{1 + (slot // len(MODALITIES)) % STATIONS}",
            "scheduled_start_date": day, "scheduled_start_time": start_time, "scheduled_start": day + start_time,
            "procedure_description": "Benchmark exam", "scheduled_procedure_step_status": "SCHEDULED",
        })
        if len(rows) == 10_000:
            with database.session() as session:
                session.execute(insert(WorklistItem), rows)
            rows = []
    if rows:
        with database.session() as session:
            session.execute(insert(WorklistItem), rows)
    database.close()
    return today.strftime("%Y%m%d")


def untune(event: Any) -> None:
    """``EVT_CONN_OPEN`` handler undoing the server's tuning: Nagle on, pynetdicom's standard log handlers."""
    import socket

    from pynetdicom import evt
    from pynetdicom._handlers import (
        standard_dimse_recv_handler,
        standard_dimse_sent_handler,
        standard_pdu_recv_handler,
        standard_pdu_sent_handler,
    )

    event.assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
    for name, handler in (("EVT_PDU_RECV", standard_pdu_recv_handler), ("EVT_PDU_SENT", standard_pdu_sent_handler),
                          ("EVT_DIMSE_RECV", standard_dimse_recv_handler),
                          ("EVT_DIMSE_SENT", standard_dimse_sent_handler)):
        event.assoc.bind(getattr(evt, name), handler)


def serve(url: str, untuned: bool, ports: Any) -> None:
    """Server process: serve ``url`` on a free port until terminated."""
    from pynetdicom import _config, evt

    from pylantir.dicom import start_server

    server = start_server(PylantirConfig(), Database.open(url), port=0)
    if untuned:
        server.server.bind(evt.EVT_CONN_OPEN, untune)  # runs after the server's own handler
        _config.LOG_REQUEST_IDENTIFIERS = _config.LOG_RESPONSE_IDENTIFIERS = True
    ports.put(server.port)
    while True:
        time.sleep(3600)


def universal_identifier(day: str) -> Dataset:
    """Every return key we keep, matching one day only."""
    identifier = worklist_identifier(day)
    for keyword in ("IssuerOfPatientID", "PatientWeight", "MedicalAlerts", "Allergies", "RequestedProcedurePriority",
                    "RequestingPhysician"):
        setattr(identifier, keyword, "")
    step = Dataset()
    step.ScheduledProcedureStepStartDate = day
    identifier.ScheduledProcedureStepSequence = Sequence([step])
    return identifier


def client(port: int, identifier: Dataset, count: int, per_association: bool, nodelay: bool) -> list[float]:
    """Run ``count`` queries; latencies in ms (with association setup/release when ``per_association``)."""
    peer = Peer("127.0.0.1", port, nodelay=nodelay)
    latencies = []
    if per_association:
        for _ in range(count):
            started = time.perf_counter()
            with association(peer, ModalityWorklistInformationFind) as assoc:
                find_on(assoc, identifier)
            latencies.append((time.perf_counter() - started) * 1000)
        return latencies
    with association(peer, ModalityWorklistInformationFind) as assoc:
        find_on(assoc, identifier)  # warm-up
        for _ in range(count):
            started = time.perf_counter()
            responses = find_on(assoc, identifier)
            latencies.append((time.perf_counter() - started) * 1000)
            assert responses[-1][0] == 0
    return latencies


def measure(pool: Any, port: int, identifier: Dataset, queries: int, clients: int, per_association: bool,
            nodelay: bool) -> str:
    """p50/p95 over all clients' queries."""
    args = [(port, identifier, max(queries // clients, 10), per_association, nodelay)] * clients
    latencies = sorted(x for result in pool.starmap(client, args) for x in result)
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    return f"p50 {statistics.median(latencies):7.2f} ms  p95 {p95:7.2f} ms"


def matches(port: int, identifier: Dataset) -> int:
    """How many items the query returns."""
    with association(Peer("127.0.0.1", port), ModalityWorklistInformationFind) as assoc:
        return sum(1 for status, _ in find_on(assoc, identifier) if status in (0xFF00, 0xFF01))


def main() -> None:
    """Run the benchmark and print a table of figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--untuned", action="store_true")
    options = parser.parse_args()
    context = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp, context.Pool(8) as pool:
        for size in (int(s) for s in options.sizes.split(",")):
            url = f"sqlite:///{Path(tmp) / f'bench{size}.sqlite'}"
            started = time.perf_counter()
            today = fill(url, size)
            print(f"\n{size} items (inserted in {time.perf_counter() - started:.1f} s)"
                  f"{' - UNTUNED' if options.untuned else ''}")
            ports = context.Queue()
            server = context.Process(target=serve, args=(url, options.untuned, ports), daemon=True)
            server.start()
            port = ports.get(timeout=60)
            try:
                typical = worklist_identifier(today, "MR", "MR1")
                universal = universal_identifier(today)
                nodelay = not options.untuned
                print(f"  typical query ({matches(port, typical)} matches), universal query "
                      f"({matches(port, universal)} matches)")
                for label, identifier, clients, per_association in (
                    ("typical,   1 client ", typical, 1, False),
                    ("typical,   8 clients", typical, 8, False),
                    ("universal, 1 client ", universal, 1, False),
                    ("universal, 8 clients", universal, 8, False),
                    ("typical + association setup/release, 1 client", typical, 1, True),
                ):
                    result = measure(pool, port, identifier, options.queries, clients, per_association, nodelay)
                    print(f"  {label:48s} {result}")
            finally:
                server.terminate()
                server.join()


if __name__ == "__main__":
    main()
