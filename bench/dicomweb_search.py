"""DICOMweb search against C-FIND on the same worklist and process: the typical modality query (station + today).

Generates ``--items`` scheduled items as ``compare_wlmscpfs.py`` does (a CSV export synced with ``pylantir sync``,
and the same items as dcmtk worklist files), then runs ``pylantir run --no-sync`` (DICOM and HTTP) beside dcmtk's
``wlmscpfs`` and times, alternating, the same question asked three ways:

- DICOMweb: ``GET /dicomweb/modality-scheduled-procedure-steps?`` with
  ``ScheduledProcedureStepSequence.ScheduledStationAETitle=MR1`` and
  ``ScheduledProcedureStepSequence.ScheduledProcedureStepStartDate=<today>``, a read token (httpx), once with a
  new connection per request and once over one kept-alive connection;
- C-FIND to Pylantir and to wlmscpfs: the same keys, one association per query (pynetdicom, Nagle off).

All answers must name the same items (by accession number). Prints p50/p95 in milliseconds.

    python bench/dicomweb_search.py [--items 10000] [--runs 30]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _harness as h
import httpx
from compare_wlmscpfs import PYLANTIR_AE, WLMSCPFS_AE, Query, Server, dicom_query, measure, prepare, verify

SEARCH = "/dicomweb/modality-scheduled-procedure-steps"


def read_token(config: Path) -> str:
    """A read token made with ``pylantir tokens create`` (printed once on standard output)."""
    result = subprocess.run([*h.pylantir_command(), "tokens", "create", "bench", "--role", "read", "--config",
                             str(config)], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise h.BenchError(f"pylantir tokens create failed:\n{result.stderr}")
    return result.stdout.strip()


def wait_for_http(base: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(f"{base}/health", timeout=2)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise h.BenchError(f"pylantir run did not answer HTTP at {base}") from None
            time.sleep(0.05)


def web_query(label: str, base: str, token: str, parameters: dict[str, str], expected: int,
              keep_alive: httpx.Client | None) -> Query:
    """The search over HTTP: on ``keep_alive``'s connection, or a new connection per request."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/dicom+json"}

    def send(_server: Server) -> list[str]:
        if keep_alive is not None:
            response = keep_alive.get(SEARCH, params=parameters)
        else:
            with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
                response = client.get(SEARCH, params=parameters)
        if response.status_code not in (200, 204):
            raise h.BenchError(f"{label}: HTTP {response.status_code}: {response.text}")
        return [answer["00080050"]["Value"][0] for answer in response.json()] if response.status_code == 200 else []

    return Query(label, expected, "-", send)


def main() -> None:
    """Prepare, check that the three answers agree, time them, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--items", type=int, default=10_000, help="scheduled items (default 10000)")
    parser.add_argument("--runs", type=int, default=30, help="timed queries per way (default 30)")
    options = parser.parse_args()
    print(h.machine())
    with tempfile.TemporaryDirectory(prefix="pylantir-bench-") as tmp:
        workdir = Path(tmp)
        config, wl_root, items = prepare(workdir, options.items)
        token = read_token(config)
        today, station = h.today_utc().strftime("%Y%m%d"), h.STATIONS[0][0]
        cfind = dicom_query("C-FIND", "-", items, date=today, station=station)
        port, http_port, wl_port = h.free_port(), h.free_port(), h.free_port()
        base = f"http://127.0.0.1:{http_port}"
        parameters = {"ScheduledProcedureStepSequence.ScheduledStationAETitle": station,
                      "ScheduledProcedureStepSequence.ScheduledProcedureStepStartDate": today}
        pylantir = Server("Pylantir", h.Service(
            "pylantir run", [*h.pylantir_command(), "run", "--no-sync", "--config", str(config), "--port", str(port),
                             "--http-port", str(http_port)], port, workdir / "pylantir.log"), PYLANTIR_AE)
        wlmscpfs = Server("wlmscpfs", h.Service(
            "wlmscpfs", [h.dcmtk_tool("wlmscpfs"), "-dfp", str(wl_root), str(wl_port)], wl_port,
            workdir / "wlmscpfs.log", env=h.DCMTK_ENV), WLMSCPFS_AE)
        with pylantir.service, wlmscpfs.service:
            wait_for_http(base)
            with httpx.Client(base_url=base, timeout=60, headers={
                    "Authorization": f"Bearer {token}", "Accept": "application/dicom+json"}) as kept:
                web_new = web_query("DICOMweb, new connection", base, token, parameters, cfind.expected, None)
                web_kept = web_query("DICOMweb, kept-alive", base, token, parameters, cfind.expected, kept)
                rows = []
                for query, servers in ((cfind, [pylantir, wlmscpfs]), (web_new, [pylantir]), (web_kept, [pylantir])):
                    verify(query, servers, query.send)
                    measure(query, servers, options.runs, check=True)
                check = sorted(web_kept.send(pylantir))
                if check != sorted(cfind.send(pylantir)):
                    raise h.BenchError("DICOMweb and C-FIND returned different items")
                ways = (("C-FIND, wlmscpfs", wlmscpfs, cfind), ("C-FIND, Pylantir", pylantir, cfind),
                        (web_new.label, pylantir, web_new), (web_kept.label, pylantir, web_kept))
                for label, server, query in ways:
                    p50, p95 = h.p50_p95(server.latencies[query.label])
                    rows.append([label, query.expected, f"{p50:.1f}", f"{p95:.1f}", f"{server.cpu[query.label]:.1f}"])
        print(f"\n{options.items} items; station + today on {station}; {options.runs} runs per way")
        h.print_table(["way", "matches", "p50 ms", "p95 ms", "server CPU ms/query"], rows)


if __name__ == "__main__":
    try:
        main()
    except h.BenchError as error:
        sys.exit(f"error: {error}")
