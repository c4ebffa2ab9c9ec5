"""The process-level benchmarks of ``bench/`` run end to end on a tiny site, against the installed console script.

Figures are not checked (``bench/`` prints them; docs/benchmarks.md records them): these tests keep the
scripts working while the product changes, and check what the scripts check on the way (both servers return
the same items; every sync stores what it should; no C-FIND answer is wrong while a sync writes).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def run_script(name: str, *args: str) -> str:
    """Run ``bench/name`` with this interpreter (whose ``pylantir`` script it finds beside it); its output."""
    result = subprocess.run([sys.executable, str(BENCH / name), *args], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def table_row(output: str, *first: str) -> list[str]:
    """The cells (split on runs of 2+ spaces) of the printed table row whose first cells are ``first``."""
    for line in output.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if tuple(cells[: len(first)]) == first:
            return cells
    raise AssertionError(f"no row {first!r} in:\n{output}")


@pytest.mark.dcmtk
def test_compare_wlmscpfs_both_servers_return_the_same_items(dcmtk) -> None:  # type: ignore[no-untyped-def]
    dcmtk("wlmscpfs", "--version")  # skips without dcmtk
    output = run_script("compare_wlmscpfs.py", "--items", "400", "--runs", "2", "--findscu-runs", "1")
    # 400 items: today fully booked (333, 37 on MR1), the rest tomorrow; patient 0 has items 0 and 280
    expected = {"station + today": "37", "patient ID": "2", "today, every station": "333",
                "today, every station, findscu": "333", "universal, findscu": "400"}
    for label, matches in expected.items():
        assert table_row(output, label)[1] == matches


def test_cfind_tail_times_queries_that_all_match() -> None:
    output = run_script("cfind_tail.py", "--items", "400", "--queries", "5", "--rounds", "1")
    assert table_row(output, "1")[1] == "37"  # the script checks every answer's count


def test_sync_cli_first_sync_and_resync_of_each_format() -> None:
    output = run_script("sync_cli.py", "--rows", "300", "--runs", "1")
    for export_format in ("csv", "jsonl", "json"):
        for scenario in ("first sync", "re-sync"):
            assert table_row(output, export_format, scenario)  # the script checks the counts


def test_run_under_load_gives_no_wrong_answer_during_resyncs() -> None:
    output = run_script("run_under_load.py", "--rows", "600", "--runs", "1", "--clients", "2", "--settle", "2",
                        "--client-nice", "19")
    assert table_row(output, "inside pylantir run, 2 clients")
    for label in ("outside a sync", "during a sync"):
        _, _, _, _, wrong, empty, errors = table_row(output, label)
        assert (wrong, empty, errors) == ("0", "0", "0")


def test_cli_startup_times_every_command() -> None:
    output = run_script("cli_startup.py", "--runs", "1")
    for label in ("pylantir --help", "pylantir sources list", "pylantir config example", "pylantir config check FILE",
                  "pylantir sync, until the fetch starts", "pylantir sync, header-only CSV, to exit"):
        assert table_row(output, label)


def test_http_bench_times_c_find_with_and_without_http_and_the_api_search() -> None:
    output = run_script("http_bench.py", "--items", "400", "--runs", "2")
    # 400 items: 37 today on MR1 (the script checks every answer's count)
    assert table_row(output, "C-FIND station + today, --no-http")[1] == "37"
    assert table_row(output, "C-FIND station + today, HTTP on")[1] == "37"
    assert table_row(output, "API search station + today")[1] == "37"
    assert table_row(output, "API search patient ID")


def test_write_back_bench_delivers_every_change() -> None:
    output = run_script("write_back_bench.py", "--exams", "20", "--latency-exams", "3", "--rate-exams", "5")
    assert table_row(output, "backlog of 20: first -> last write")  # the script waits for every write
    assert table_row(output, "N-SET sent -> source written, p50 / p95 (3 exams)")


@pytest.mark.postgres
def test_cluster_bench_spreads_queries_and_takes_over() -> None:
    server = os.environ.get("PYLANTIR_TEST_POSTGRES_URL")
    if not server:
        pytest.skip("PYLANTIR_TEST_POSTGRES_URL is not set: no PostgreSQL server to run the cluster benchmark on")
    output = run_script("cluster_bench.py", "--postgres-url", server, "--rows", "300", "--clients", "2",
                        "--seconds", "1", "--runs", "1")
    for instances in ("1", "3"):
        assert table_row(output, instances)[1].endswith(" s (900 rows)")
    assert table_row(output, "new leader's sync starts")  # the script checks the answers and the rows
