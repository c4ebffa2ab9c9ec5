"""ijson's backend as a site runs it: named by ``sources list``; its pure-Python fallback reads the same records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pylantir_json.parser import BACKEND

PYLANTIR = str(Path(sys.executable).parent / "pylantir")
MAPPING = {"patient.id": "patient_id", "patient.name": "patient_name", "exam.modality": "modality",
           "slot": "scheduled_start_date"}
RECORDS = [
    {"patient": {"id": "DEMO001", "name": "DEMO^ALICE", "weight": 61.5}, "exam": {"modality": "MR"},
     "slot": "2026-11-25"},
    {"patient": {"id": "DEMO002", "name": "DEMO^BOB", "weight": 80}, "exam": {"modality": "CT"}, "slot": "2026-11-26"},
]


def pylantir(*args: str, backend: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "IJSON_BACKEND"}
    if backend is not None:
        env["IJSON_BACKEND"] = backend
    return subprocess.run([PYLANTIR, *args], capture_output=True, text=True, env=env, timeout=60)


def json_summary(backend: str | None) -> str:
    listed = json.loads(pylantir("sources", "list", "--json", backend=backend).stdout)
    [summary] = [t["summary"] for p in listed if p["name"] == "pylantir-json" for t in p["source_types"]]
    return summary


@pytest.mark.parametrize("backend", sorted({BACKEND, "python"}))
def test_sources_list_names_the_backend_that_runs(backend):
    assert json_summary(backend).endswith(f"(parser: ijson {backend})")


def check_fetch(tmp_path: Path, text: str, backend: str | None) -> dict:
    data = tmp_path / "bookings.json"
    data.write_text(text, encoding="utf-8")
    config = tmp_path / "pylantir.json"
    config.write_text(json.dumps({
        "database_url": f"sqlite:///{tmp_path / 'worklist.sqlite'}",
        "data_sources": [
            {"name": "site", "type": "json", "config": {"file_path": str(data)}, "field_mapping": MAPPING},
        ],
    }))
    result = pylantir("sources", "check", "--config", str(config), "--fetch", "--json", backend=backend)
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr, result.stderr
    [report] = json.loads(result.stdout)
    return report


def test_the_python_backend_reads_what_the_c_backend_reads(tmp_path: Path):
    text = json.dumps(RECORDS, indent=2)
    c_report, python_report = check_fetch(tmp_path, text, None), check_fetch(tmp_path, text, "python")
    assert [e["patient_id"] for e in python_report["entries"]] == ["DEMO001", "DEMO002"]
    assert python_report["entries"] == c_report["entries"]


@pytest.mark.parametrize("backend", [None, "python"])
def test_invalid_json_is_placed_and_quotes_no_patient_data(tmp_path: Path, backend):
    text = json.dumps(RECORDS, indent=2).replace('"DEMO^BOB"', "DEMO^BOB")
    line = text[: text.index("DEMO^BOB")].count("\n") + 1
    error = check_fetch(tmp_path, text, backend)["error"]
    assert f"invalid JSON at line {line}, column " in error
    assert "DEMO" not in error.split("invalid JSON at")[1]


@pytest.mark.parametrize("backend", sorted({BACKEND, "python"}))
def test_a_wrong_encoding_is_named_as_such_by_every_backend(tmp_path: Path, backend):
    data = tmp_path / "bookings.json"
    config = tmp_path / "pylantir.json"
    check_fetch(tmp_path, "[]", backend)  # writes the config
    data.write_bytes(json.dumps(RECORDS, ensure_ascii=False).replace("ALICE", "ZOË").encode("latin-1"))
    result = pylantir("sources", "check", "--config", str(config), "--fetch", "--json", backend=backend)
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr, result.stderr
    [report] = json.loads(result.stdout)
    assert "the file is not valid utf-8" in report["error"] and "set config.encoding" in report["error"]
