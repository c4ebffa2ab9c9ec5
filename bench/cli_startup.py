"""Start-up of the ``pylantir`` console script: the commands that touch no database and no network, and
how long ``pylantir sync`` takes before it starts fetching.

Every command is the installed console script as a process, timed from before its start to its exit, the
commands taking turns (``--runs`` rounds, after one warm-up round for the file cache):

- ``--version``, ``--help``, ``sources list`` (``--json``), ``config example``, ``config check FILE`` (a valid
  file with a CSV source), and ``worklist fields`` when the installed version has it;
- ``pylantir sync`` until its first fetch starts: a probe source type (a plugin file in the configuration's
  ``plugins_dir``) prints the monotonic clock when its ``fetch_entries`` is called and yields nothing; on an
  existing, up-to-date SQLite file;
- ``pylantir sync`` of a CSV export holding only its header row, start to exit, on an existing SQLite file.

The commands may write bytecode, as a site's installation has it (pip compiles the modules it installs):
``PYTHONDONTWRITEBYTECODE`` (set in some CI and container images) is left out of their environment, else every
start of an editable install compiles pylantir's modules again (a quarter to a third more CPU on the project
machine).

Prints median and p95 wall milliseconds and the median CPU of the process (user + system, which shared
cores inflate less) beside the goals of issue 17 (0.3 s; the sync ready to fetch in 0.5 s).

    python bench/cli_startup.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import _harness as h

PROBE_MARK = "bench-probe fetch started at"
PROBE_PLUGIN = f'''"""Benchmark probe: a source type whose fetch prints when it starts, and yields nothing."""

import sys
import time

import pylantir


@pylantir.hookimpl
def source_types():
    return [pylantir.SourceType("bench-probe", "prints when its fetch starts; yields nothing")]


@pylantir.hookimpl
def validate_config(config):
    return []


@pylantir.hookimpl
def fetch_entries(config):
    print(f"{PROBE_MARK} {{time.monotonic():.6f}}", file=sys.stderr, flush=True)
    return []
'''

#: Command -> one timed run: (milliseconds, CPU milliseconds of the whole process).
Timer = Callable[[], tuple[float, float]]
#: The commands' environment: this one, less ``PYTHONDONTWRITEBYTECODE`` (see the module's description).
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def wall_ms(command: list[str]) -> tuple[float, float]:
    """Wall and CPU milliseconds of one run of ``command``, which must succeed."""
    result = h.run_checked(command, " ".join(command), env=ENV)
    return result.wall * 1000, result.cpu * 1000


def until_fetch_ms(command: list[str]) -> tuple[float, float]:
    """Milliseconds from starting ``command`` to the probe's mark on its standard error (and its CPU)."""
    started = time.monotonic()
    result = h.run_checked(command, " ".join(command), env=ENV)
    marks = [line.split()[-1] for line in result.stderr.splitlines() if line.startswith(PROBE_MARK)]
    if not marks:
        raise h.BenchError(f"{' '.join(command)}: no fetch started:\n{result.stdout}\n{result.stderr}")
    return (float(marks[0]) - started) * 1000, result.cpu * 1000


def has_command(pylantir: list[str], *words: str) -> bool:
    """Whether the installed ``pylantir`` has the (sub)command ``words``."""
    return subprocess.run([*pylantir, *words, "--help"], capture_output=True).returncode == 0


def timers(workdir: Path) -> dict[str, tuple[Timer, str]]:
    """Each measured command: its timer and its goal, with the files it needs written in ``workdir``."""
    pylantir = h.pylantir_command()
    export = workdir / "header-only.csv"
    h.write_csv(export, [])
    csv_config = h.write_config(workdir / "csv.json", workdir / "csv.sqlite",
                                [h.file_source("site_csv", "csv", export)])
    plugins = workdir / "plugins"
    plugins.mkdir()
    (plugins / "bench_probe.py").write_text(PROBE_PLUGIN, encoding="utf-8")
    probe_config = h.write_config(workdir / "probe.json", workdir / "probe.sqlite",
                                  [{"name": "probe", "type": "bench-probe"}], plugins_dir=plugins)
    commands = [["--version"], ["--help"], ["sources", "list"], ["sources", "list", "--json"], ["config", "example"],
                ["config", "check", str(csv_config)]]
    if has_command(pylantir, "worklist", "fields"):
        commands.append(["worklist", "fields"])
    measured: dict[str, tuple[Timer, str]] = {}
    for args in commands:
        label = "pylantir " + " ".join("FILE" if arg == str(csv_config) else arg for arg in args)
        measured[label] = (partial(wall_ms, [*pylantir, *args]), "< 300 ms")
    for config in (csv_config, probe_config):  # the databases exist and are up to date before timing
        wall_ms([*pylantir, "sync", "--config", str(config)])
    measured["pylantir sync, until the fetch starts"] = (
        partial(until_fetch_ms, [*pylantir, "sync", "--config", str(probe_config)]), "< 500 ms")
    measured["pylantir sync, header-only CSV, to exit"] = (
        partial(wall_ms, [*pylantir, "sync", "--config", str(csv_config)]), "")
    return measured


def main() -> None:
    """Time every command in turn; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--runs", type=int, default=20, help="timed runs of each command (default 20)")
    runs = parser.parse_args().runs
    print(h.machine())
    with tempfile.TemporaryDirectory(prefix="pylantir-bench-") as tmp:
        measured = timers(Path(tmp))
        times: dict[str, list[tuple[float, float]]] = {label: [] for label in measured}
        for round_number in range(runs + 1):
            for label, (timer, _) in measured.items():
                elapsed = timer()
                if round_number:  # round 0 warms the file cache
                    times[label].append(elapsed)
    print(f"\n{runs} runs of each command (CPU: user + system of the whole process, median)")
    rows = []
    for label, (_, goal) in measured.items():
        wall, cpu = [ms for ms, _ in times[label]], [ms for _, ms in times[label]]
        rows.append([label, f"{h.percentile(wall, 0.5):.0f}", f"{h.percentile(wall, 0.95):.0f}",
                     f"{h.percentile(cpu, 0.5):.0f}", goal])
    h.print_table(["command", "median ms", "p95 ms", "CPU ms", "goal"], rows)


if __name__ == "__main__":
    try:
        main()
    except h.BenchError as error:
        sys.exit(f"error: {error}")
