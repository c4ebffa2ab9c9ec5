"""What an operator sees: the real log of a `pylantir run` process fed by a CSV source, while modalities
associate (accepted, refused three ways), query and report MPPS. One line per association, C-FIND and MPPS
operation; no patient data; no third-party lines unless -vv."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pydicom import Dataset
from pydicom.sequence import Sequence
from pynetdicom.sop_class import ModalityPerformedProcedureStep, Verification

from pylantir.dicom.client import DicomClientError, Peer, association, echo, find
from pylantir.sync.clock import site_today

from .conftest import PYLANTIR, free_port, serving

# Values that must never reach the log (the patient data of the export).
PATIENT_DATA = ("Zebulon", "Quixote", "Ottilie", "Vanderbrook", "MRN-784512", "MRN-993301", "19610723",
                "1961-07-23", "ACC-55012")
MPPS_UID = "1.2.826.0.1.3680043.10.999.42.1"
T = TypeVar("T")


def write_site(tmp_path: Path, port: int) -> Path:
    """A CSV export of two patients and a configuration serving it with access control and a limit of 2."""
    today = site_today("UTC").isoformat()
    export = tmp_path / "export.csv"
    export.write_text(
        "mrn,name,dob,modality,exam_date,exam_time,accession\n"
        f"MRN-784512,Quixote^Zebulon,1961-07-23,MR,{today},08:30,ACC-55012\n"
        f"MRN-993301,Vanderbrook^Ottilie,1975-02-11,MR,{today},09:15,ACC-55013\n",
        encoding="utf-8",
    )
    config = tmp_path / "pylantir.json"
    config.write_text(json.dumps({
        "database_url": f"sqlite:///{tmp_path / 'site.sqlite'}",
        "server": {"ae_title": "PYLANTIR", "port": port, "allowed_aets": ["MR1", "CT1"],
                   "check_called_ae_title": True, "max_associations": 2},
        "data_sources": [{"name": "ris_export", "type": "csv", "sync_interval": 3600,
                          "config": {"file_path": str(export)},
                          "field_mapping": {"mrn": "patient_id", "name": "patient_name", "dob": "patient_birth_date",
                                            "modality": "modality", "exam_date": "scheduled_start_date",
                                            "exam_time": "scheduled_start_time", "accession": "accession_number"}}],
    }))
    return config


def query(**keys: str) -> Dataset:
    """An identifier with the usual return keys and ``keys`` as matching keys."""
    identifier = Dataset()
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber", "StudyInstanceUID"):
        setattr(identifier, keyword, keys.get(keyword, ""))
    return identifier


def mpps(peer: Peer, item: Dataset) -> None:
    """N-CREATE IN PROGRESS then N-SET COMPLETED for ``item``, as the modality would."""
    create = Dataset()
    step = Dataset()
    step.StudyInstanceUID = item.StudyInstanceUID
    step.AccessionNumber = item.AccessionNumber
    for keyword in ("RequestedProcedureID", "ScheduledProcedureStepID", "RequestedProcedureDescription",
                    "ScheduledProcedureStepDescription"):
        setattr(step, keyword, "")
    step.ScheduledProtocolCodeSequence = step.ReferencedStudySequence = Sequence()
    create.ScheduledStepAttributesSequence = Sequence([step])
    create.PatientName, create.PatientID = item.PatientName, item.PatientID
    create.PatientBirthDate, create.PatientSex = item.PatientBirthDate, ""
    for keyword in ("PerformedStationName", "PerformedLocation", "PerformedProcedureStepDescription",
                    "PerformedProcedureTypeDescription", "PerformedProcedureStepEndDate",
                    "PerformedProcedureStepEndTime", "StudyID"):
        setattr(create, keyword, "")
    for keyword in ("ReferencedPatientSequence", "ProcedureCodeSequence", "PerformedProtocolCodeSequence",
                    "PerformedSeriesSequence"):
        setattr(create, keyword, Sequence())
    create.PerformedProcedureStepID, create.PerformedStationAETitle, create.Modality = "PPS1", "MR1", "MR"
    create.PerformedProcedureStepStartDate, create.PerformedProcedureStepStartTime = "20260105", "083000"
    create.PerformedProcedureStepStatus = "IN PROGRESS"
    final = Dataset()
    final.PerformedProcedureStepStatus = "COMPLETED"
    final.PerformedProcedureStepEndDate, final.PerformedProcedureStepEndTime = "20260105", "090000"
    series = Dataset()
    series.SeriesInstanceUID, series.ProtocolName = MPPS_UID + ".1", "T1"
    series.ReferencedImageSequence = series.ReferencedNonImageCompositeSOPInstanceSequence = Sequence()
    final.PerformedSeriesSequence = Sequence([series])
    with association(peer, ModalityPerformedProcedureStep) as assoc:
        assert assoc.send_n_create(create, ModalityPerformedProcedureStep, MPPS_UID)[0].Status == 0
        assert assoc.send_n_set(final, ModalityPerformedProcedureStep, MPPS_UID)[0].Status == 0


def refused(peer: Peer, reason: str) -> None:
    """An echo from ``peer`` is rejected for ``reason`` (a limit rejection is raised, for :func:`patiently`)."""
    try:
        echo(peer)
    except DicomClientError as exc:
        if "Local limit exceeded" in str(exc) and "Local limit" not in reason:
            raise
        assert f"rejected: {reason}" in str(exc)
    else:
        pytest.fail(f"{peer} was not rejected")


def patiently(operation: Callable[..., T], *args: Any) -> T:
    """Run ``operation``, retried while the server is at its limit of 2 associations (pynetdicom frees a
    released association's slot when its thread has ended, a moment later), as a modality retries."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return operation(*args)
        except DicomClientError as exc:
            if "Local limit exceeded" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.plugin("pylantir-csv")
@pytest.mark.parametrize("verbosity", [[], ["-v"]], ids=["default", "-v"])
def test_run_logs_what_happens_without_patient_data(tmp_path: Path, verbosity: list[str]) -> None:
    """Each association, C-FIND and MPPS operation is one line an operator can read; nothing else is added."""
    port = free_port()
    config = write_site(tmp_path, port)
    modality = Peer("127.0.0.1", port, calling_ae="MR1", called_ae="PYLANTIR", timeout=5)
    with serving([*verbosity, "run", "--config", str(config)], modality) as server:
        deadline = time.monotonic() + 20
        while not (found := patiently(find, modality, query(PatientName="quixote^zebulon"))):
            assert time.monotonic() < deadline, "the first sync did not finish"  # it runs beside the server
            time.sleep(0.2)
        [zebulon] = found
        assert len(patiently(find, modality, query(PatientID="MRN-993301"))) == 1
        with pytest.raises(DicomClientError, match="0xA900"):
            patiently(find, modality, query(PatientName="Quixote^Zebulon" + "x" * 100))
        patiently(refused, Peer("127.0.0.1", port, calling_ae="INTRUDER", called_ae="PYLANTIR"),
                  "Calling AE title not recognised")
        patiently(refused, Peer("127.0.0.1", port, calling_ae="MR1", called_ae="SOMEONE"),
                  "Called AE title not recognised")
        patiently(mpps, modality, zebulon)
        with ExitStack() as held:
            for calling in ("MR1", "CT1"):
                patiently(lambda ae=calling: held.enter_context(
                    association(Peer("127.0.0.1", port, ae, "PYLANTIR"), Verification)))
            refused(modality, "Local limit exceeded")
    assert server.returncode == 0, server.stderr
    log = server.stderr
    lines = log.splitlines()
    assert "Traceback" not in log
    assert not [line for line in lines if re.search(r" (pynetdicom|alembic|pydicom)[.:]", line)]
    assert [value for value in PATIENT_DATA if value in log] == []

    def one(pattern: str) -> str:
        found = [line for line in lines if re.search(pattern, line)]
        assert len(found) == 1, (pattern, found)
        return found[0]

    finds = [line for line in lines if re.search(r"INFO pylantir\.dicom\.find: C-FIND from MR1: 1 match in [\d.]+ ms$",
                                                 line)]
    assert len(finds) == 2  # by name, by ID
    one(r"WARNING pylantir\.dicom\.find: C-FIND from MR1 refused \(A900\): PatientName: longer than PN allows")
    assert len([line for line in lines if re.search(r"INFO .*: MR1 -> PYLANTIR accepted \(Modality Worklist "
                                                    r"Information Model - FIND\)$", line)]) == 3
    one(r"INFO .*: INTRUDER -> PYLANTIR refused: calling AE title INTRUDER is not in server\.allowed_aets; "
        r"\d refused since start")
    one(r"INFO .*: MR1 -> SOMEONE refused: called AE title SOMEONE is not PYLANTIR "
        r"\(server\.check_called_ae_title\)")
    assert [line for line in lines if re.search(r"INFO .*: MR1 -> PYLANTIR refused: limit reached "
                                                r"\(server\.max_associations = 2\); \d+ refused since start$", line)]
    one(rf"INFO pylantir\.dicom\.mpps: MPPS {re.escape(MPPS_UID)} from MR1: N-CREATE IN PROGRESS, "
        r"1 worklist item\(s\)$")
    one(rf"INFO pylantir\.dicom\.mpps: MPPS {re.escape(MPPS_UID)} from MR1: N-SET COMPLETED, 1 worklist item\(s\)$")
    # One line per association: each is accepted or refused, and each refusal is counted once.
    associations = [line for line in lines if "pylantir.dicom.connections: association from" in line]
    assert all(re.search(r" accepted \(|refused: ", line) for line in associations)
    refusals = [int(n) for n in re.findall(r"; (\d+) refused since start$", log, re.M)]
    assert len(refusals) == max(refusals) == len(set(refusals)) >= 3


@pytest.mark.plugin("pylantir-csv")
def test_v_adds_no_alembic_lines(tmp_path: Path) -> None:
    """`pylantir -v db upgrade` and `-v sync` log our INFO lines, not Alembic's setup lines."""
    config = write_site(tmp_path, free_port())
    for command in (["db", "upgrade"], ["sync"]):
        result = subprocess.run([*PYLANTIR, "-v", *command, "--config", str(config)], check=False,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "alembic" not in result.stderr.lower(), result.stderr
        assert [value for value in PATIENT_DATA if value in result.stderr] == []
