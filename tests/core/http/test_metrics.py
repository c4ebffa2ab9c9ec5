"""``/metrics`` of a real ``pylantir run`` parses with prometheus-client's parser and its counters move with
real DICOM traffic and syncs (no patient data in any label); ``--log-format json`` writes one JSON object
per log line."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pylantir.dicom.client import DicomClientError, Peer, echo, find

from ..dicom.test_run_logs import mpps, query
from .conftest import Site, running
from .test_worklist_api import MAPPING, ROWS_PLUGIN, row

PATIENT_DATA = ("Doe^Jane", "Family2", "P001", "P002", "19800203", "ACC001")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text exposition: (name, sorted labels) -> value."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_parse_and_move_with_traffic_and_logs_are_json(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "rowsfile.py").write_text(ROWS_PLUGIN)
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps([row(1, name="Doe^Jane"), row(2), row(3, dob="not a date")]))
    site = Site(tmp_path, f"sqlite:///{tmp_path / 'site.sqlite'}")
    site.settings["server"] = {"allowed_aets": ["MR1", "PYLANTIR_SCU"]}  # the second: running()'s echo
    site.settings["data_sources"] = [{"name": "ris", "type": "rowsfile", "sync_interval": 3600,
                                      "config": {"path": str(rows)}, "field_mapping": MAPPING}]
    token = site.token("prometheus", "read")
    modality = Peer("127.0.0.1", site.dicom_port, calling_ae="MR1", timeout=10)
    with running(site, global_args=("--log-format", "json", "--plugins-dir", str(plugins))) as server:
        assert httpx.get(f"{site.url}/metrics").status_code == 401  # not in http.open_endpoints
        with site.client(token) as client:
            deadline = time.monotonic() + 30
            while not (before := samples(client.get("/metrics").text)).get(
                    ("pylantir_sync_runs_total", (("outcome", "success"), ("source", "ris")))):
                assert time.monotonic() < deadline, "the first sync did not finish"
                time.sleep(0.1)
            assert value(before, "pylantir_sync_rows_total", source="ris", kind="inserted") == 2
            assert value(before, "pylantir_sync_rows_total", source="ris", kind="rejected") == 1
            assert value(before, "pylantir_source_seconds_since_success", source="ris") >= 0

            [jane] = find(modality, query(PatientName="doe^jane"))
            assert len(find(modality, query())) == 2
            mpps(modality, jane)
            with pytest.raises(DicomClientError):
                echo(Peer("127.0.0.1", site.dicom_port, calling_ae="INTRUDER"))
            text = client.get("/metrics").text
            after = samples(text)
    assert server.returncode == 0
    assert value(after, "pylantir_cfind_requests_total", calling_ae="MR1", outcome="success") == 2
    assert value(after, "pylantir_cfind_matches_total", calling_ae="MR1") == 3
    assert value(after, "pylantir_cfind_duration_seconds_count", calling_ae="MR1", outcome="success") == 2
    assert value(after, "pylantir_associations_accepted_total", calling_ae="MR1") == 3  # 2 C-FIND, 1 MPPS
    assert value(after, "pylantir_associations_refused_total", reason="calling_ae_not_allowed") == 1
    assert value(after, "pylantir_associations_active") == 0
    assert value(after, "pylantir_mpps_events_total", operation="N-CREATE", state="IN PROGRESS") == 1
    assert value(after, "pylantir_mpps_events_total", operation="N-SET", state="COMPLETED") == 1
    assert value(after, "pylantir_database_errors_total", operation="cfind") == 0
    assert not any(patient in text for patient in PATIENT_DATA)

    lines = [json.loads(line) for line in server.stderr.splitlines() if line.strip()]
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    messages = [line["message"] for line in lines]
    assert any(message.startswith("C-FIND from MR1: 1 match in") for message in messages)
    assert any("dashboard and API at" in message for message in messages)
    assert not any(patient in message for patient in PATIENT_DATA for message in messages)


def test_metrics_may_be_left_open(site: Site) -> None:
    site.settings["http"] = {"open_endpoints": ["health", "metrics"]}
    with running(site, "--no-sync"):
        answer = httpx.get(f"{site.url}/metrics")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
        assert "pylantir_cfind_requests" in answer.text
        assert httpx.get(f"{site.url}/ready").status_code == 401  # no longer open
