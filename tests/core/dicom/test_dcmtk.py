"""dcmtk's echoscu and findscu -W as an independent client of the server (skipped when dcmtk is absent)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydicom import dcmread

from pylantir.dicom.client import Peer
from pylantir.store import WorklistItem

pytestmark = pytest.mark.dcmtk

# Access control, TLS and dcmtk do not depend on the database backend.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
def test_echoscu(peer: Peer, dcmtk) -> None:
    """echoscu gets a successful C-ECHO."""
    result = dcmtk("echoscu", "-aet", "MR1", "-aec", "PYLANTIR", peer.host, str(peer.port))
    assert result.returncode == 0, result.stderr


@SQLITE_ONLY
def test_findscu_worklist_query(
    add_items: Callable[..., list[WorklistItem]], peer: Peer, tmp_path: Path, dcmtk
) -> None:
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
