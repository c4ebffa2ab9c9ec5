"""Shared helpers of the process-level benchmarks (``compare_wlmscpfs``, ``sync_cli``, ``run_under_load``,
``cli_startup``).

These scripts judge Pylantir from the outside, as a site runs it: the installed ``pylantir`` console script,
its configuration file format, a pynetdicom client and dcmtk's tools. Nothing here imports ``pylantir``, so the
scripts keep measuring the same thing while the product's internals change.

- generated scheduled items (:func:`generate_items`) and the files a site would have: CSV, JSON Lines and JSON
  array exports (:func:`write_csv`, ...), dcmtk worklist files (:func:`write_worklist_files`), a Pylantir
  configuration (:func:`write_config`);
- processes: the console scripts (:func:`pylantir_command`, :func:`dcmtk_tool`), a server started and waited
  for until its port answers, stopped by its PID (:class:`Service`), a command timed with its own resource
  usage (:func:`run_measured`);
- a DICOM Modality Worklist client, one association per query (:func:`find`, :func:`worklist_query`);
- statistics and output (:func:`percentile`, :func:`print_table`).
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

# -- generated items ---------------------------------------------------------------------------------------

#: (Scheduled Station AE Title, modality) of the generated site: 9 stations over 5 modalities.
STATIONS = (
    ("MR1", "MR"), ("MR2", "MR"), ("MR3", "MR"), ("CT1", "CT"), ("CT2", "CT"),
    ("US1", "US"), ("US2", "US"), ("DX1", "DX"), ("NM1", "NM"),
)
#: Exams per station on a fully booked day (one every 20 minutes from 07:00): 333 a day over all stations.
SLOTS_PER_DAY = 37
#: Days ahead that hold bookings; day d ahead is booked to exp(-d / BOOKING_DECAY_DAYS) of a full day.
FUTURE_DAYS = 39
BOOKING_DECAY_DAYS = 10.0
#: Share of patients with a second exam (so a patient-ID query matches one or two items).
RETURNING_PATIENTS = 0.3
DESCRIPTIONS = {"MR": "MRI BRAIN", "CT": "CT CHEST", "US": "US ABDOMEN", "DX": "XR CHEST 2 VIEWS", "NM": "NM BONE SCAN"}
UID_PREFIX = "1.2.826.0.1.3680043.8.498.99."  # pydicom's UID root, a branch for benchmark data


@dataclass(frozen=True, slots=True)
class Item:
    """One scheduled procedure step of the generated site (dates and times in DICOM form)."""

    number: int
    patient_id: str
    patient_name: str
    birth_date: str
    sex: str
    accession: str
    study_uid: str
    requested_procedure_id: str
    step_id: str
    modality: str
    station: str
    date: str
    time: str
    description: str
    step_description: str
    performing_physician: str


def day_plan(count: int) -> list[tuple[int, int]]:
    """(day offset from today, exams per station) for ``count`` items: today fully booked, the next
    ``FUTURE_DAYS`` days less and less, the rest on fully booked past days (10,000 items span 60 days)."""
    plan = [(0, SLOTS_PER_DAY)]
    for ahead in range(1, FUTURE_DAYS + 1):
        plan.append((ahead, round(SLOTS_PER_DAY * math.exp(-ahead / BOOKING_DECAY_DAYS))))
    booked = sum(per_station for _, per_station in plan) * len(STATIONS)
    past_days = max(0, math.ceil((count - booked) / (SLOTS_PER_DAY * len(STATIONS))))
    return plan + [(-back, SLOTS_PER_DAY) for back in range(1, past_days + 1)]


def generate_items(count: int, today: date, changed: float = 0.0, variant: int = 0) -> Iterator[Item]:
    """``count`` items around ``today`` (see :func:`day_plan`), deterministic.

    With ``changed`` > 0, every ``1/changed``-th item's step description carries ``variant`` (the same items
    as another variant, matching the same queries, with different content: what a re-sync has to write).
    """
    patients = max(1, round(count * (1 - RETURNING_PATIENTS)))
    every = round(1 / changed) if changed > 0 else 0
    number = 0
    for offset, per_station in day_plan(count):
        day = (today + timedelta(days=offset)).strftime("%Y%m%d")
        for station, modality in STATIONS:
            for slot in range(per_station):
                if number == count:
                    return
                patient = number % patients
                minutes = 7 * 60 + 20 * slot
                step_description = f"{DESCRIPTIONS[modality]} PROTOCOL"
                if every and number % every == 0:
                    step_description += f" V{variant}"
                yield Item(
                    number=number,
                    patient_id=f"BP{patient:07d}",
                    patient_name=f"Bench^Patient{patient}",
                    birth_date=f"{1940 + patient % 60}{1 + patient % 12:02d}{1 + patient % 28:02d}",
                    sex="FM"[patient % 2],
                    accession=f"BA{number:08d}",
                    study_uid=f"{UID_PREFIX}{number + 1}",
                    requested_procedure_id=f"RP{number:07d}",
                    step_id=f"SPS{number:07d}",
                    modality=modality,
                    station=station,
                    date=day,
                    time=f"{minutes // 60:02d}{minutes % 60:02d}00",
                    description=DESCRIPTIONS[modality],
                    step_description=step_description,
                    performing_physician=f"Operator^{station}",
                )
                number += 1


def today_utc() -> date:
    """The day the generated site calls "today" (the configuration's time zone is UTC)."""
    return datetime.now(UTC).date()


# -- data files --------------------------------------------------------------------------------------------

#: How each exported field becomes a worklist field: the ``field_mapping`` of every generated source.
FIELD_MAPPING = {
    "mrn": "patient_id",
    "name": "patient_name",
    "birth_date": "patient_birth_date",
    "sex": "patient_sex",
    "accession": "accession_number",
    "study_uid": "study_instance_uid",
    "procedure_id": "requested_procedure_id",
    "step_id": "scheduled_procedure_step_id",
    "modality": "modality",
    "station": "scheduled_station_aetitle",
    "date": "scheduled_start_date",
    "time": "scheduled_start_time",
    "exam": "requested_procedure_description",
    "protocol": "procedure_description",
    "operator": "performing_physician",
}


def export_record(item: Item) -> dict[str, str]:
    """The item as a scheduling system exports it: ISO dates, HH:MM times, names as "Family^Given"."""
    return {
        "mrn": item.patient_id, "name": item.patient_name,
        "birth_date": f"{item.birth_date[:4]}-{item.birth_date[4:6]}-{item.birth_date[6:]}", "sex": item.sex,
        "accession": item.accession, "study_uid": item.study_uid, "procedure_id": item.requested_procedure_id,
        "step_id": item.step_id, "modality": item.modality, "station": item.station,
        "date": f"{item.date[:4]}-{item.date[4:6]}-{item.date[6:]}", "time": f"{item.time[:2]}:{item.time[2:4]}",
        "exam": item.description, "protocol": item.step_description, "operator": item.performing_physician,
    }


def _replace_atomically(path: Path, write: Any) -> None:
    """Write ``path`` through a temporary file renamed over it (a reader never sees half a file)."""
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, newline="", encoding="utf-8") as handle:
        write(handle)
    os.replace(handle.name, path)


def write_csv(path: Path, items: Iterable[Item]) -> None:
    """A CSV export with a header row (the ``csv`` source type)."""

    def write(handle: IO[str]) -> None:
        writer = csv.DictWriter(handle, fieldnames=list(FIELD_MAPPING))
        writer.writeheader()
        writer.writerows(export_record(item) for item in items)

    _replace_atomically(path, write)


def write_jsonl(path: Path, items: Iterable[Item]) -> None:
    """A JSON Lines export, one record per line (``json`` source type, ``"format": "jsonl"``)."""
    _replace_atomically(path, lambda handle: handle.writelines(json.dumps(export_record(i)) + "\n" for i in items))


def write_json_array(path: Path, items: Iterable[Item]) -> None:
    """A JSON array export (``json`` source type, ``"format": "array"``), written record by record."""

    def write(handle: IO[str]) -> None:
        handle.write("[\n")
        for index, item in enumerate(items):
            handle.write(("" if index == 0 else ",\n") + json.dumps(export_record(item)))
        handle.write("\n]\n")

    _replace_atomically(path, write)


#: Source ``type`` and ``config`` (without ``file_path``) for each export format.
SOURCE_FORMATS: dict[str, tuple[str, dict[str, Any]]] = {
    "csv": ("csv", {}),
    "jsonl": ("json", {"format": "jsonl"}),
    "json": ("json", {"format": "array"}),
}
WRITERS = {"csv": write_csv, "jsonl": write_jsonl, "json": write_json_array}


def write_config(
    path: Path,
    database: Path,
    sources: Sequence[dict[str, Any]] = (),
    port: int = 11112,
    plugins_dir: Path | None = None,
) -> Path:
    """A Pylantir configuration file serving on loopback, UTC, with the given ``data_sources``."""
    config: dict[str, Any] = {
        "server": {"ae_title": "PYLANTIR", "host": "127.0.0.1", "port": port},
        "database_url": f"sqlite:///{database}",
        "timezone": "UTC",
        "data_sources": list(sources),
    }
    if plugins_dir is not None:
        config["plugins_dir"] = str(plugins_dir)
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path


def file_source(
    name: str, export_format: str, file_path: Path, sync_interval: float = 60, **config: Any
) -> dict[str, Any]:
    """A data source reading ``file_path`` (``export_format``: ``csv``, ``jsonl`` or ``json``)."""
    source_type, format_config = SOURCE_FORMATS[export_format]
    return {
        "name": name, "type": source_type, "sync_interval": sync_interval,
        "config": {"file_path": str(file_path), **format_config, **config},
        "field_mapping": FIELD_MAPPING,
    }


def write_worklist_files(directory: Path, items: Iterable[Item]) -> int:
    """One dcmtk worklist file (``.wl``) per item in ``directory``, with the attributes Pylantir stores
    from the same export. Returns the number of files."""
    from pydicom import dcmwrite
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence as DicomSequence

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "lockfile").touch()  # wlmscpfs expects it in each AE title directory
    written = 0
    for item in items:
        step = Dataset()
        step.Modality = item.modality
        step.ScheduledStationAETitle = item.station
        step.ScheduledProcedureStepStartDate = item.date
        step.ScheduledProcedureStepStartTime = item.time
        step.ScheduledPerformingPhysicianName = item.performing_physician
        step.ScheduledProcedureStepDescription = item.step_description
        step.ScheduledProcedureStepID = item.step_id
        step.ScheduledProcedureStepStatus = "SCHEDULED"
        dataset = Dataset()
        dataset.PatientName = item.patient_name
        dataset.PatientID = item.patient_id
        dataset.PatientBirthDate = item.birth_date
        dataset.PatientSex = item.sex
        dataset.AccessionNumber = item.accession
        dataset.StudyInstanceUID = item.study_uid
        dataset.RequestedProcedureID = item.requested_procedure_id
        dataset.RequestedProcedureDescription = item.description
        dataset.ScheduledProcedureStepSequence = DicomSequence([step])
        dataset.ReferencedStudySequence = DicomSequence()  # type 2: wlmscpfs warns about each file without them
        dataset.ReferencedPatientSequence = DicomSequence()
        # a bare data set in explicit VR little endian, which dcmtk reads without a meta header
        dcmwrite(directory / f"{item.number:08d}.wl", dataset, implicit_vr=False, little_endian=True)
        written += 1
    return written


# -- processes ---------------------------------------------------------------------------------------------


class BenchError(Exception):
    """A benchmark cannot go on (a tool is missing, a process failed, two servers disagree)."""


def pylantir_command() -> list[str]:
    """The installed ``pylantir`` console script: next to this interpreter, else on ``PATH``."""
    beside = Path(sys.executable).with_name("pylantir")
    found = str(beside) if beside.exists() else shutil.which("pylantir")
    if not found:
        raise BenchError("no 'pylantir' console script next to this Python or on PATH; pip install pylantir-core")
    return [found]


def dcmtk_tool(name: str) -> str:
    """dcmtk's ``name`` on ``PATH``, passing over pynetdicom's scripts of the same name (installed in venvs)."""
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = shutil.which(name, path=directory)
        if candidate:
            version = subprocess.run([candidate, "--version"], capture_output=True, text=True, timeout=10)
            if "dcmtk" in version.stdout.lower():
                return candidate
    raise BenchError(f"dcmtk's {name} is not on PATH (apt-get install dcmtk)")


#: dcmtk tools with Nagle's algorithm off, like Pylantir's server and the client below.
DCMTK_ENV = {**os.environ, "TCP_NODELAY": "1"}


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Service:
    """A server process (its output in a log file), usable once its TCP port accepts connections."""

    def __init__(self, name: str, command: Sequence[str], port: int, log_path: Path, env: dict[str, str] | None = None,
                 cwd: Path | None = None):
        self.name = name
        self.command = list(command)
        self.port = port
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> Service:
        """Start the process and wait until its port accepts a TCP connection."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                            cwd=self.cwd)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"{self.name} exited with status {self.process.returncode}:\n{self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BenchError(f"{self.name} did not open port {self.port} within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM to our process (by PID), SIGKILL if it has not exited within ``timeout`` s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the process wrote."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, error_type: type[BaseException] | None, *_: object) -> None:
        self.stop()
        if error_type is not None:  # what the server said is often the explanation
            print(f"--- last lines of {self.name}'s log:\n{self.log_tail()}", file=sys.stderr)


@dataclass(frozen=True)
class Measured:
    """One finished command: wall seconds, CPU seconds, peak RSS of the process (MiB) and its output."""

    wall: float
    cpu: float
    peak_mib: float
    returncode: int
    stdout: str
    stderr: str


def run_measured(command: Sequence[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> Measured:
    """Run ``command`` to its end; its own resource usage from ``wait4`` (not that of earlier children)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, process.returncode,
                        out.read().decode(errors="replace"), err.read().decode(errors="replace"))


def run_checked(command: Sequence[str], what: str, **kwargs: Any) -> Measured:
    """:func:`run_measured`, raising :class:`BenchError` with the command's output when it fails."""
    result = run_measured(command, **kwargs)
    if result.returncode != 0:
        raise BenchError(f"{what} failed with status {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def summary_table(text: str) -> list[dict[str, str]]:
    """The rows of a table printed by ``pylantir`` (a header line, then one line per row), by header name."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    header, *rows = lines
    return [dict(zip(header, row, strict=False)) for row in rows if len(row) == len(header)]


def sync_summary(result: Measured, source: str) -> dict[str, str]:
    """``source``'s row of the summary that ``pylantir sync`` printed."""
    for row in summary_table(result.stdout):
        if row.get("source") == source:
            return row
    raise BenchError(f"no summary row for source {source!r} in the output of pylantir sync:\n{result.stdout}")


def synced_site(workdir: Path, count: int, source: str) -> tuple[Path, list[Item]]:
    """``count`` generated items as a CSV export synced into a new SQLite file by ``pylantir sync`` (every item
    stored, checked): the configuration (``source`` reads the export) and the items."""
    items = list(generate_items(count, today_utc()))
    export = workdir / "export.csv"
    write_csv(export, items)
    config = write_config(workdir / "pylantir.json", workdir / "worklist.sqlite", [file_source(source, "csv", export)])
    summary = sync_summary(run_checked([*pylantir_command(), "sync", "--config", str(config)], "pylantir sync"), source)
    if summary.get("inserted") != str(count):
        raise BenchError(f"pylantir sync stored {summary.get('inserted')} of {count} items")
    return config, items


# -- DICOM client ------------------------------------------------------------------------------------------

#: Return keys a modality typically asks for (IHE RAD-5), at the top level and inside the SPS item.
TOP_LEVEL_KEYS = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "AccessionNumber", "StudyInstanceUID",
    "RequestedProcedureID", "RequestedProcedureDescription",
)
SPS_KEYS = (
    "Modality", "ScheduledStationAETitle", "ScheduledProcedureStepStartDate", "ScheduledProcedureStepStartTime",
    "ScheduledPerformingPhysicianName", "ScheduledProcedureStepDescription", "ScheduledProcedureStepID",
    "ScheduledProcedureStepStatus",
)
CALLING_AE = "BENCH_SCU"
MODALITY_WORKLIST_FIND = "1.2.840.10008.5.1.4.31"  # Modality Worklist Information Model - FIND (SOP class UID)
VERIFICATION = "1.2.840.10008.1.1"  # Verification SOP class UID (C-ECHO)


def worklist_query(date: str = "", station: str = "", modality: str = "", patient_id: str = "") -> Any:
    """A Modality Worklist identifier with the usual return keys, matching on the values given."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence as DicomSequence

    identifier = Dataset()
    for keyword in TOP_LEVEL_KEYS:
        setattr(identifier, keyword, "")
    identifier.PatientID = patient_id
    step = Dataset()
    for keyword in SPS_KEYS:
        setattr(step, keyword, "")
    step.ScheduledProcedureStepStartDate = date
    step.ScheduledStationAETitle = station
    step.Modality = modality
    identifier.ScheduledProcedureStepSequence = DicomSequence([step])
    return identifier


def findscu_keys(date: str = "") -> list[str]:
    """dcmtk ``findscu`` ``-k`` arguments for every return key of :func:`worklist_query`: the universal query,
    or the steps scheduled on ``date`` (YYYYMMDD)."""
    matched = {"ScheduledProcedureStepStartDate": date}
    keys = [f"{keyword}=" for keyword in TOP_LEVEL_KEYS]
    keys += [f"ScheduledProcedureStepSequence[0].{keyword}={matched.get(keyword, '')}" for keyword in SPS_KEYS]
    return [arg for key in keys for arg in ("-k", key)]


def _quiet_pynetdicom() -> None:
    """No identifier formatting or per-PDU logging in the client: its cost would be counted against servers."""
    from pynetdicom import _config

    _config.LOG_REQUEST_IDENTIFIERS = False
    _config.LOG_RESPONSE_IDENTIFIERS = False
    _config.LOG_HANDLER_LEVEL = "none"


def _nodelay(event: Any) -> None:
    """``EVT_CONN_OPEN`` handler: Nagle's algorithm off on the client's socket."""
    event.assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def find(port: int, called_ae: str, identifier: Any, timeout: float = 60.0) -> list[Any]:
    """One association to ``127.0.0.1:port``, one C-FIND, release: the matching identifiers.

    Raises :class:`BenchError` when the association fails or the final status is not Success.
    """
    from pynetdicom import AE, evt

    _quiet_pynetdicom()
    ae = AE(ae_title=CALLING_AE)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = ae.connection_timeout = timeout
    ae.add_requested_context(MODALITY_WORKLIST_FIND)
    assoc = ae.associate("127.0.0.1", port, ae_title=called_ae, evt_handlers=[(evt.EVT_CONN_OPEN, _nodelay)])
    if not assoc.is_established:
        raise BenchError(f"association with 127.0.0.1:{port} ({called_ae}) failed")
    try:
        matches, final = [], None
        for status, result in assoc.send_c_find(identifier, MODALITY_WORKLIST_FIND):
            final = int(status.Status) if "Status" in status else None
            if final in (0xFF00, 0xFF01):
                matches.append(result)
    finally:
        if assoc.is_established:
            assoc.release()
    if final != 0:
        raise BenchError(f"C-FIND to 127.0.0.1:{port} ({called_ae}) ended with status {final}")
    return matches


def echo(port: int, called_ae: str, timeout: float = 30.0) -> None:
    """One C-ECHO on its own association (also makes a forking server such as wlmscpfs reap the child of the
    association before, so that its CPU is counted)."""
    from pynetdicom import AE

    _quiet_pynetdicom()
    ae = AE(ae_title=CALLING_AE)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = ae.connection_timeout = timeout
    ae.add_requested_context(VERIFICATION)
    assoc = ae.associate("127.0.0.1", port, ae_title=called_ae)
    if not assoc.is_established:
        raise BenchError(f"association with 127.0.0.1:{port} ({called_ae}) failed")
    try:
        assoc.send_c_echo()
    finally:
        assoc.release()


# -- statistics and output ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile (0.5: median, 0.95: p95) with linear interpolation between samples."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def p50_p95(values: Sequence[float]) -> tuple[float, float]:
    """Median and 95th percentile."""
    return percentile(values, 0.5), percentile(values, 0.95)


def spread(values: Sequence[float], unit: str = "s", digits: int = 2) -> str:
    """"median (min-max)" of a few runs."""
    return f"{percentile(values, 0.5):.{digits}f} {unit} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A plain text table, columns as wide as their widest cell."""
    cells = [[str(header) for header in headers], *[[str(cell) for cell in row] for row in rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    for index, row in enumerate(cells):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))


def machine() -> str:
    """One line naming what the figures were measured on."""
    revision = subprocess.run(["git", "-C", str(Path(__file__).parent), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip() or "unknown"
    version = subprocess.run([*pylantir_command(), "--version"], capture_output=True, text=True).stdout.strip()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (f"{version or 'pylantir ?'}, commit {revision}, {os.cpu_count()} cores, "
            f"Python {sys.version.split()[0]}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {load}")


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` and its children it has reaped (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")
