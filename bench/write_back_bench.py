"""Performed-step write-back inside ``pylantir run``: latency from a modality's N-SET to the source's write, and
throughput of 1,000 changes.

A source plugin in the run's plugin directory (``benchsteps``) serves ``--exams`` scheduled exams from a JSON
file, each with its key, and writes each performed step it is handed to a file with the time of the write
(while a "hold" file exists it raises a transient error: the source is down). A pynetdicom client plays the
modality, over one association for all its MPPS messages:

1. latency: ``--latency-exams`` exams one after the other: N-CREATE, N-SET COMPLETED; from the N-SET's
   sending to the source's write of COMPLETED (p50/p95), beside the N-SET round trip itself;
2. MPPS rate: N-CREATE + N-SET pairs per second for ``--rate-exams`` exams of a source without
   ``write_back``, then as many of a source with it (the source up: each change is written while the next exams come);
3. backlog: the source down, ``--exams`` exams performed (twice as many changes, of which the COMPLETED
   ones are left pending); the source back: how long until all are written, and their rate. A change is
   retried 1 s after its first failure, then less and less often (at most :data:`BACKLOG_MAX_RETRY` s apart):
   the last change recorded is due again within 1 s of the source's return, so "source back -> last
   written" includes up to 1 s of waiting for the next attempt, and the first change written makes the rest
   due at once. (With every change retried each second, the outbox of 1,000 pending changes took the
   process's whole CPU share during the outage and starved the MPPS handling: the modality's rate fell to
   about 1 pair/s, and on a loaded machine an N-CREATE went unanswered.)

No anchor exists here (dcmtk's ``wlmscpfs`` has no MPPS); the MPPS round trip and the rate without write-back
are the references, measured in the same run.

    python bench/write_back_bench.py [--exams 1000] [--latency-exams 100] [--rate-exams 200]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import textwrap
import time
from datetime import date
from pathlib import Path
from typing import Any

import _harness as h

PLUGIN = textwrap.dedent('''
    import json
    import time
    from pathlib import Path

    from pylantir import Record, SourceType, TransientSourceError, WriteBackResult, hookimpl


    @hookimpl
    def source_types():
        return [SourceType("benchsteps", "benchmark exams; performed steps written to a file")]


    @hookimpl
    def fetch_entries(config):
        for exam in json.loads(Path(config["file"]).read_text()):
            yield Record(exam, f"exam {exam['id']}", key={"exam": exam["id"]})


    @hookimpl
    def write_back(settings, changes):
        if Path(settings["hold"]).exists():
            raise TransientSourceError("the benchmark source is down")
        with open(settings["log"], "a") as out:
            for change in changes:
                out.write(f"{change.key['exam']} {change.status} {time.time():.6f}\\n")
        return [WriteBackResult.done(change) for change in changes]
''')
MAPPING = {"pid": "patient_id", "name": "patient_name", "date": "scheduled_start_date", "time": "scheduled_start_time",
           "modality": "modality", "uid": "study_instance_uid"}
MPPS_SOP_CLASS = "1.2.840.10008.3.1.2.3.3"
#: Longest wait between two attempts of a backlog change while the source is down (seconds).
BACKLOG_MAX_RETRY = 60


def _exams(first: int, count: int) -> list[dict[str, Any]]:
    today = date.today().isoformat()
    return [{"id": n, "pid": f"BENCH{n:06d}", "name": f"Bench^Patient{n}", "date": today, "time": "09:00",
             "modality": "MR", "uid": f"{h.UID_PREFIX}7.{n}"} for n in range(first, first + count)]


class Modality:
    """One association carrying every N-CREATE and N-SET (pynetdicom)."""

    def __init__(self, port: int):
        from pynetdicom import AE

        h._quiet_pynetdicom()
        ae = AE(ae_title="MR1")
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 60
        ae.add_requested_context(MPPS_SOP_CLASS)
        self.assoc = ae.associate("127.0.0.1", port, ae_title="PYLANTIR")
        if not self.assoc.is_established:
            raise h.BenchError(f"no association with 127.0.0.1:{port}")

    def perform(self, exam: dict[str, Any]) -> float:
        """N-CREATE then N-SET COMPLETED for ``exam``; the N-SET's round trip in seconds."""
        from pydicom import Dataset
        from pydicom.sequence import Sequence

        uid = f"{h.UID_PREFIX}8.{exam['id']}.{time.monotonic_ns()}"
        created = Dataset()
        step = Dataset()
        step.StudyInstanceUID = exam["uid"]
        for keyword in ("AccessionNumber", "RequestedProcedureID", "ScheduledProcedureStepID",
                        "RequestedProcedureDescription", "ScheduledProcedureStepDescription"):
            setattr(step, keyword, "")
        step.ScheduledProtocolCodeSequence = step.ReferencedStudySequence = Sequence()
        created.ScheduledStepAttributesSequence = Sequence([step])
        created.PatientName = created.PatientBirthDate = created.PatientSex = created.StudyID = ""
        created.PatientID = exam["pid"]
        created.ReferencedPatientSequence = created.ProcedureCodeSequence = Sequence()
        created.PerformedProtocolCodeSequence = created.PerformedSeriesSequence = Sequence()
        created.PerformedProcedureStepID = "PPS1"
        created.PerformedStationAETitle = "MR1"
        created.PerformedStationName = created.PerformedLocation = ""
        created.PerformedProcedureStepStartDate, created.PerformedProcedureStepStartTime = "20260105", "101500"
        created.PerformedProcedureStepEndDate = created.PerformedProcedureStepEndTime = ""
        created.PerformedProcedureStepDescription = created.PerformedProcedureTypeDescription = ""
        created.PerformedProcedureStepStatus = "IN PROGRESS"
        created.Modality = "MR"
        self._check(self.assoc.send_n_create(created, MPPS_SOP_CLASS, uid), "N-CREATE")
        final = Dataset()
        final.PerformedProcedureStepStatus = "COMPLETED"
        final.PerformedProcedureStepEndDate, final.PerformedProcedureStepEndTime = "20260105", "104500"
        series = Dataset()
        series.SeriesInstanceUID, series.ProtocolName = uid + ".1", "T1"
        series.ReferencedImageSequence = series.ReferencedNonImageCompositeSOPInstanceSequence = Sequence()
        final.PerformedSeriesSequence = Sequence([series])
        started = time.perf_counter()
        self._check(self.assoc.send_n_set(final, MPPS_SOP_CLASS, uid), "N-SET")
        return time.perf_counter() - started

    @staticmethod
    def _check(answer: Any, what: str) -> None:
        status = answer[0]
        if "Status" not in status or int(status.Status) != 0:
            raise h.BenchError(f"{what} was not answered with success: {status}")

    def close(self) -> None:
        self.assoc.release()


def _written(log: Path) -> dict[int, float]:
    """Exam -> time its COMPLETED was written."""
    if not log.exists():
        return {}
    found = {}
    for line in log.read_text().splitlines():
        exam, status, moment = line.split()
        if status == "COMPLETED":
            found[int(exam)] = float(moment)
    return found


def _wait(condition: Any, what: str, timeout: float = 300.0, step: float = 0.001) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise h.BenchError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(step)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exams", type=int, default=1000, help="exams of the backlog phase")
    parser.add_argument("--latency-exams", type=int, default=100, help="exams of the latency phase")
    parser.add_argument("--rate-exams", type=int, default=200, help="exams of each MPPS-rate run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pylantir-write-back-bench-") as scratch:
        root = Path(scratch)
        plugins = root / "plugins"
        plugins.mkdir()
        (plugins / "benchsteps.py").write_text(PLUGIN)
        log, hold = root / "written.txt", root / "down"
        sets = {"latency": _exams(0, args.latency_exams), "plain": _exams(100_000, args.rate_exams),
                "live": _exams(200_000, args.rate_exams), "backlog": _exams(300_000, args.exams)}
        sources = []
        for name, exams in sets.items():
            (root / f"{name}.json").write_text(json.dumps(exams))
            source: dict[str, Any] = {"name": name, "type": "benchsteps", "sync_interval": 3600,
                                      "config": {"file": str(root / f"{name}.json")}, "field_mapping": MAPPING}
            if name != "plain":
                source["write_back"] = {"config": {"log": str(log), "hold": str(hold)}, "first_retry_seconds": 1,
                                        "max_retry_seconds": BACKLOG_MAX_RETRY if name == "backlog" else 1}
            sources.append(source)
        port = h.free_port()
        config = h.write_config(root / "pylantir.json", root / "worklist.sqlite", sources, port, plugins)
        with h.Service("pylantir run", [*h.pylantir_command(), "run", "--no-http", "--config", str(config)],
                       port, root / "run.log"):
            total = sum(len(exams) for exams in sets.values())
            _wait(lambda: len(h.find(port, "PYLANTIR", h.worklist_query())) == total, "the first syncs",
                  timeout=120, step=0.2)
            modality = Modality(port)
            try:
                report = _measure(modality, sets, log, hold)
            finally:
                modality.close()
    print(h.machine())
    h.print_table(["measure", "value"], report)


def _rate(modality: Modality, exams: list[dict[str, Any]]) -> float:
    """MPPS N-CREATE + N-SET pairs per second over ``exams``."""
    started = time.perf_counter()
    for exam in exams:
        modality.perform(exam)
    return len(exams) / (time.perf_counter() - started)


def _measure(modality: Modality, sets: dict[str, list[dict[str, Any]]], log: Path,
             hold: Path) -> list[tuple[str, str]]:
    latencies, round_trips = [], []
    for exam in sets["latency"]:
        sent = time.time()
        round_trip = modality.perform(exam)
        _wait(lambda exam=exam: exam["id"] in _written(log), f"the write-back of exam {exam['id']}")
        latencies.append(_written(log)[exam["id"]] - sent)
        round_trips.append(round_trip)
    plain, live = _rate(modality, sets["plain"]), _rate(modality, sets["live"])
    live_exams = {exam["id"] for exam in sets["live"]}
    _wait(lambda: live_exams <= set(_written(log)), "the live exams' delivery", step=0.01)
    hold.touch()
    _rate(modality, sets["backlog"])
    backlog = {exam["id"] for exam in sets["backlog"]}
    back_up = time.time()
    hold.unlink()
    _wait(lambda: backlog <= set(_written(log)), "the backlog's delivery", step=0.01)
    times = sorted(moment for exam, moment in _written(log).items() if exam in backlog)
    lat50, lat95 = h.p50_p95(latencies)
    rt50, rt95 = h.p50_p95(round_trips)
    count = len(sets["backlog"])
    return [
        (f"N-SET sent -> source written, p50 / p95 ({len(latencies)} exams)",
         f"{lat50 * 1000:.1f} / {lat95 * 1000:.1f} ms"),
        ("N-SET round trip (reference), p50 / p95", f"{rt50 * 1000:.1f} / {rt95 * 1000:.1f} ms"),
        (f"MPPS pairs/s, source without write_back ({len(sets['plain'])} exams)", f"{plain:.1f}"),
        (f"MPPS pairs/s, source with write_back, delivered meanwhile ({len(sets['live'])} exams)", f"{live:.1f}"),
        (f"backlog of {count} COMPLETED: source back -> last written", f"{times[-1] - back_up:.2f} s"),
        (f"backlog of {count}: first -> last write", f"{times[-1] - times[0]:.3f} s "
                                                      f"({count / max(times[-1] - times[0], 1e-9):.0f} changes/s)"),
    ]


if __name__ == "__main__":
    main()
