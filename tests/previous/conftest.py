"""The previous Pylantir (PyPI ``pylantir`` 0.3.x-0.4.6), run for real: its own venv, its own process.

Used by the tests of this directory (fixtures below) and by ``make_databases.py``, which writes the
database files in ``data/`` that the import tests read. The previous versions are installed from the
package index into ``$PYLANTIR_PREVIOUS_VENVS`` (default ``~/.cache/pylantir-tests/previous``), once per
machine; a test that needs one skips, with the reason, when it cannot be installed.

The previous Pylantir is driven as a site drives it: ``pylantir start --ip ... --port ... --AEtitle ...
--pylantir_config FILE`` against the fake REDCap and Calpendo servers of ``tests/redcap`` and
``tests/calpendo`` (loaded from their conftest files), and a scanner's MPPS N-CREATE / N-SET.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

HERE = Path(__file__).parent
DATA = HERE / "data"
VENVS_ENV = "PYLANTIR_PREVIOUS_VENVS"
INSTALL_TIMEOUT = 600
START_TIMEOUT = 90.0


def _load(path: Path, name: str) -> ModuleType:
    """A test tree's conftest as a plain module (the fakes live there)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


fake_redcap = _load(HERE.parent / "redcap" / "conftest.py", "previous_fake_redcap")
fake_calpendo = _load(HERE.parent / "calpendo" / "conftest.py", "previous_fake_calpendo")


class PreviousUnavailable(Exception):
    """The previous Pylantir cannot be installed here (no package index, say)."""


def previous_venv(version: str) -> Path:
    """A venv with ``pylantir==version`` from the package index (made once, then reused)."""
    root = Path(os.environ.get(VENVS_ENV) or Path.home() / ".cache" / "pylantir-tests" / "previous")
    venv = root / f"pylantir-{version}"
    script = venv / "bin" / "pylantir"
    if script.exists():
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    steps = [[sys.executable, "-m", "venv", "--clear", str(venv)],
             [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", f"pylantir=={version}"]]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False)
        if done.returncode != 0:
            raise PreviousUnavailable(f"cannot install pylantir {version}: {done.stderr.strip()[-400:]}")
    return venv


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rows(db_path: Path) -> list[dict[str, Any]]:
    """The previous Pylantir's ``worklist_items`` rows (empty while it has not created the table)."""
    if not db_path.exists():
        return []
    with sqlite3.connect(db_path) as connection:
        connection.row_factory = sqlite3.Row
        try:
            return [dict(row) for row in connection.execute("SELECT * FROM worklist_items ORDER BY id")]
        except sqlite3.OperationalError:
            return []


@dataclass
class PreviousServer:
    """``pylantir start`` of a previous version, serving ``config`` (a dict, written next to the log)."""

    version: str
    config: dict[str, Any]
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    ae_title: str = "MWL_SERVER"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def db_path(self) -> Path:
        return Path(self.config["db_path"])

    @property
    def log_path(self) -> Path:
        return self.workdir / f"pylantir-{self.version}.log"

    def start(self) -> PreviousServer:
        venv = previous_venv(self.version)
        config_path = self.workdir / f"pylantir-{self.version}.json"
        config_path.write_text(json.dumps(self.config, indent=2), encoding="utf-8")
        command = [str(venv / "bin" / "pylantir"), "start", "--ip", "127.0.0.1", "--port", str(self.port),
                   "--AEtitle", self.ae_title, "--pylantir_config", str(config_path)]
        environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.workdir), "TZ": "UTC", **self.env}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, cwd=self.workdir, env=environment, stdout=log,
                                            stderr=subprocess.STDOUT)
        return self

    def wait_for(self, ready: Callable[[list[dict[str, Any]]], bool], what: str) -> list[dict[str, Any]]:
        """Poll its database until ``ready(rows)``; fail with its log when it does not happen."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            found = rows(self.db_path)
            if ready(found):
                return found
            if self.process is not None and self.process.poll() is not None:
                break
            time.sleep(0.5)
        raise AssertionError(f"pylantir {self.version}: no {what}; its log:\n{self.log_text()[-3000:]}")

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)


def mpps(port: int, called_ae: str, patient_id: str, study_uid: str, final: str | None) -> None:
    """A scanner's MPPS for one exam: N-CREATE (IN PROGRESS) and, with ``final``, N-SET to it."""
    from pydicom.dataset import Dataset
    from pydicom.uid import generate_uid
    from pynetdicom import AE
    from pynetdicom.sop_class import ModalityPerformedProcedureStep  # type: ignore[attr-defined]

    ae = AE(ae_title="SCANNER")
    ae.add_requested_context(ModalityPerformedProcedureStep)
    uid = generate_uid()
    created = Dataset()
    created.PatientID = patient_id
    created.StudyInstanceUID = study_uid
    created.PerformedProcedureStepID = "PPS1"
    created.PerformedStationAETitle = "SCANNER"
    created.PerformedProcedureStepStatus = "IN PROGRESS"
    association = ae.associate("127.0.0.1", port, ae_title=called_ae)
    assert association.is_established, "the previous Pylantir refused the MPPS association"
    try:
        status, _ = association.send_n_create(created, ModalityPerformedProcedureStep, uid)
        assert status and status.Status == 0, status
        if final is not None:
            change = Dataset()
            change.PerformedProcedureStepStatus = final
            status, _ = association.send_n_set(change, ModalityPerformedProcedureStep, uid)
            assert status and status.Status == 0, status
    finally:
        association.release()


# -- the data both Pylantirs read ---------------------------------------------------------------------


def cpip_project(today: datetime) -> Any:
    """The previous Pylantir's REDCap project: a baseline row per participant and ``mri`` instances.

    Participant 1002 is a neuro-PCP participant (``neuro_pcp`` = 1: the previous Pylantir prefixed its
    study ID with ``ng_``). Every record was modified at ``today`` (the previous Pylantir asks only for
    records modified in its last sync interval).
    """
    field_def = fake_redcap.field_def
    metadata = [field_def(name, form) for name, form in (
        ("record_id", "enrolment"), ("study_id", "enrolment"), ("family_id", "enrolment"),
        ("youth_dob_y", "enrolment"), ("neuro_pcp", "enrolment"), ("mri_instance", "mri"),
        ("mri_date", "mri"), ("mri_time", "mri"))]
    metadata.insert(4, field_def("demo_sex", "enrolment", "radio", "1, Female | 2, Male"))
    day = today.date()
    base = {"redcap_event_name": "baseline_arm_1", "redcap_repeat_instrument": "", "redcap_repeat_instance": ""}

    def mri(record: str, instance: int, days: int, clock: str) -> dict[str, Any]:
        return {"record_id": record, "redcap_event_name": "baseline_arm_1", "redcap_repeat_instrument": "mri",
                "redcap_repeat_instance": instance, "mri_instance": str(instance),
                "mri_date": (day + timedelta(days=days)).isoformat(), "mri_time": clock}

    project_rows = [
        {"record_id": "1", **base, "study_id": "CPIP-1001", "family_id": "FAM-501", "youth_dob_y": "2012",
         "demo_sex": "1", "neuro_pcp": "0"},
        mri("1", 1, 0, "09:30"),
        mri("1", 2, 0, "14:00"),
        {"record_id": "2", **base, "study_id": "CPIP-1002", "family_id": "FAM-502", "youth_dob_y": "2013",
         "demo_sex": "2", "neuro_pcp": "1"},
        mri("2", 1, 1, "10:15"),
    ]
    project = fake_redcap.FakeProject(metadata, project_rows, events=["baseline_arm_1"], repeating=True)
    for record in ("1", "2"):
        project.touch(record, today)
    return project


#: The previous Pylantir's REDCap ``field_mapping`` (REDCap field -> worklist field) a 0.4.x site used.
REDCAP_MAPPING = {"study_id": "study_id", "family_id": "family_id", "mri_instance": "mri_instance",
                  "youth_dob_y": "youth_dob_y", "demo_sex": "demo_sex"}

#: The previous Pylantir's own Calpendo example's mapping (inside ``config``, worklist field -> source).
CALPENDO_MAPPING = {
    "patient_id": {"source_field": "title", "_extract": {"pattern": "^([A-Z0-9]+)_.*", "group": 1}},
    "patient_name": {"source_field": "title", "_extract": {"pattern": "^[A-Z0-9]+_(.+)$", "group": 1}},
    "study_description": {"source_field": "properties.project.formattedName",
                          "_extract": {"pattern": "^([^(]+)", "group": 1}},
    "accession_number": "id",
}


def data_sources_config(db_path: Path, redcap_url: str, calpendo_url: str | None) -> dict[str, Any]:
    """A 0.4.x ``data_sources`` configuration: one REDCap source, and a Calpendo one when given."""
    sources: list[dict[str, Any]] = [{
        "name": "cpip", "type": "redcap", "enabled": True, "sync_interval": 2,
        "config": {"site": "792", "protocol": {"792": "BRAIN_MRI_3T"}},
        "field_mapping": REDCAP_MAPPING,
    }]
    if calpendo_url is not None:
        sources.append({
            "name": "scanners", "type": "calpendo", "enabled": True, "sync_interval": 2,
            "config": {"base_url": calpendo_url, "api_path": "/webdav", "resources": [fake_calpendo.RESOURCE],
                       "status_filter": "Approved", "timezone": "UTC", "resource_modality_mapping": {"3T": "MR"},
                       "field_mapping": CALPENDO_MAPPING},
        })
    return {"db_path": str(db_path), "db_echo": "False", "allowed_aet": [], "data_sources": sources}


def legacy_config(db_path: Path) -> dict[str, Any]:
    """A ``redcap2wl`` configuration like the previous Pylantir's shipped ``mwl_config.json``."""
    return {
        "db_path": str(db_path), "db_echo": "0", "db_update_interval": 2, "allowed_aet": [],
        "operation_interval": {"start_time": [0, 0], "end_time": [23, 59]},
        "mri_visit_session_mapping": {"t1_arm_1": "1", "t2_arm_1": "2"},
        "site": "792", "protocol": {"792": "BRAIN_MRI_3T"},
        "redcap2wl": {"study_id": "study_id", "family_id": "family_id", "youth_dob_y": "youth_dob_y",
                      "demo_sex": "demo_sex"},
    }


def calpendo_bookings(server: Any, today: datetime) -> list[datetime]:
    """Two approved scanner bookings an hour and two hours from ``today`` (aware); their starts (late in the
    day the second is tomorrow's)."""
    starts = [today + timedelta(hours=1), today + timedelta(hours=2)]
    server.add("SUB001_Jane^Doe", starts[0], minutes=45, operator="Op One")
    server.add("SUB002_John^Roe", starts[1], minutes=30)
    return starts


def credentials(redcap_url: str) -> dict[str, str]:
    """The environment the previous Pylantir reads its REDCap and Calpendo credentials from."""
    return {"REDCAP_API_URL": redcap_url, "REDCAP_API_TOKEN": fake_redcap.TOKEN,
            "CALPENDO_USERNAME": fake_calpendo.USER, "CALPENDO_PASSWORD": fake_calpendo.PASSWORD}


# -- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture
def previous(tmp_path: Path) -> Iterator[Callable[..., PreviousServer]]:
    """``previous(version, config, env)``: a started ``pylantir start`` of that version; stopped after."""
    started: list[PreviousServer] = []

    def start(version: str, config: dict[str, Any], env: dict[str, str]) -> PreviousServer:
        try:
            server = PreviousServer(version, config, tmp_path, env).start()
        except PreviousUnavailable as exc:
            pytest.skip(str(exc))
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def kit() -> ModuleType:
    """This module: the fakes, the previous Pylantir's data and configurations (test modules cannot import
    a conftest under ``--import-mode=importlib``)."""
    return sys.modules[__name__]
