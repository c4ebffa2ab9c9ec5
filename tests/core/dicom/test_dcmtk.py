"""dcmtk's echoscu and findscu -W as an independent client of the server (skipped when dcmtk is absent)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from pydicom import dcmread

from pylantir.dicom.client import Peer
from pylantir.store import WorklistItem

pytestmark = pytest.mark.dcmtk

# Access control, TLS and dcmtk do not depend on the database backend.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def dcmtk(tool: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a dcmtk tool with Nagle off (Debian's dcmtk honours TCP_NODELAY=1)."""
    if shutil.which(tool) is None:
        pytest.skip(f"dcmtk's {tool} is not installed (apt-get install dcmtk)")
    return subprocess.run([tool, *args], check=False, capture_output=True, text=True, timeout=60, cwd=cwd,
                          env={**os.environ, "TCP_NODELAY": "1"})


@SQLITE_ONLY
def test_echoscu(peer: Peer) -> None:
    """echoscu gets a successful C-ECHO."""
    result = dcmtk("echoscu", "-aet", "MR1", "-aec", "PYLANTIR", peer.host, str(peer.port))
    assert result.returncode == 0, result.stderr


@SQLITE_ONLY
def test_findscu_worklist_query(add_items: Callable[..., list[WorklistItem]], peer: Peer, tmp_path: Path) -> None:
    """findscu -W with a typical modality query; responses extracted to files and read back."""
    add_items({"patient_name": "Müller^Hans", "patient_id": "DC1"}, {"modality": "CT", "patient_id": "DC2"},
              {"patient_id": "DC3", "date": "20260106"})
    result = dcmtk(
        "findscu", "-W", "-X", "-od", str(tmp_path), "-aet", "MR1", "-aec", "PYLANTIR",
        "-k", "SpecificCharacterSet=ISO_IR 192",
        "-k", "PatientName", "-k", "PatientID", "-k", "StudyInstanceUID",
        "-k", "ScheduledProcedureStepSequence[0].Modality=MR",
        "-k", "ScheduledProcedureStepSequence[0].ScheduledStationAETitle=MR1",
        "-k", "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=20260105",
        "-k", "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime",
        peer.host, str(peer.port), cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    responses = [dcmread(path) for path in sorted(tmp_path.glob("rsp*.dcm"))]
    assert [str(r.PatientID) for r in responses] == ["DC1"]
    assert str(responses[0].PatientName) == "Müller^Hans"
    assert responses[0].ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime == "100000"
