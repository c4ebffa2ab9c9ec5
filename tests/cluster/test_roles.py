"""What an operator sees of leadership with two real ``pylantir run`` processes on one PostgreSQL database, over
their real HTTP services: each instance's ``/ready`` says which source it leads and which it follows (both
ready, the follower too, after more than 3 intervals), ``/api/v1/sources`` names the same leader on both, and
``pylantir_source_leader`` is 1 only on the leader; when a leader stops, the other instance's role shows the
takeover."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from .conftest import PYLANTIR, Cluster, Instance, csv_source, serves_http, wait_for, write_source

INTERVAL = 1.0
SOURCES = ("ris", "lab")


def client(instance: Instance, token: str) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{instance.http_port}", timeout=30,
                        headers={"Authorization": f"Bearer {token}"})


def ready(instance: Instance, token: str) -> dict[str, Any]:
    with client(instance, token) as http:
        answer = http.get("/ready")
        assert answer.status_code in (200, 503), answer.text
        body: dict[str, Any] = answer.json()
        return {**body, "code": answer.status_code}


def serves(instance: Instance) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{instance.http_port}/health", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def leader_gauges(instance: Instance, token: str) -> dict[str, float]:
    with client(instance, token) as http:
        text = http.get("/metrics").text
    return {sample.labels["source"]: sample.value for family in text_string_to_metric_families(text)
            for sample in family.samples if sample.name == "pylantir_source_leader"}


def test_each_instance_reports_its_role_and_both_are_ready(cluster: Cluster, tmp_path: Path) -> None:
    if not serves_http():
        pytest.skip("pylantir run has no HTTP service")
    for name in SOURCES:
        write_source(tmp_path / f"{name}.csv", 10, prefix=name.upper())
    config = cluster.configure([csv_source(name, tmp_path / f"{name}.csv", INTERVAL) for name in SOURCES])
    token = subprocess.run([*PYLANTIR, "tokens", "create", "monitor", "--role", "read", "--config", str(config)],
                           capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    first, second = cluster.start(2)
    started = time.monotonic()
    for instance in (first, second):  # each serves HTTP just after DICOM
        wait_for(lambda instance=instance: serves(instance), 60, f"HTTP of instance pid {instance.pid}", every=0.1)

    def spread() -> dict[int, dict[str, Any]] | None:
        roles = {instance.pid: ready(instance, token) for instance in (first, second)}
        return roles if all(len(role["role"]["leads"]) == 1 for role in roles.values()) else None

    roles = wait_for(spread, 60, "one source led by each instance", every=0.2)
    # a follower judges a source's staleness by the leader's syncs: after more than 3 intervals, still ready
    wait_for(lambda: time.monotonic() - started > 4 * INTERVAL, 30, "more than 3 intervals")
    roles = {instance.pid: ready(instance, token) for instance in (first, second)}
    leader_of = {}
    for instance in (first, second):
        body = roles[instance.pid]
        assert body["code"] == 200 and body["status"] == "ready", body
        role = body["role"]
        assert role["deployment"] == "shared-database" and role["syncs"] is True
        assert role["instance"].startswith(f"pid {instance.pid} on ")
        [led] = role["leads"]
        assert role["follows"] == [name for name in SOURCES if name != led]
        leader_of[led] = instance
        assert leader_gauges(instance, token) == {name: 1.0 if name == led else 0.0 for name in SOURCES}
    assert set(leader_of) == set(SOURCES)

    for instance in (first, second):
        with client(instance, token) as http:
            entries = {entry["name"]: entry for entry in http.get("/api/v1/sources").json()}
        for name, leader in leader_of.items():
            leadership = entries[name]["leadership"]
            assert leadership["pid"] == leader.pid and leadership["instance"] == entries[name]["leader"]
            here = instance is leader
            assert leadership["this_instance"] is here
            assert (leadership["since"] is not None) is here, "only the leader knows since when it leads"

    # the leader of 'ris' stops: the other instance takes it over and says so
    stopping, staying = leader_of["ris"], leader_of["lab"]
    stopping.process.send_signal(signal.SIGTERM)
    stopping.process.wait(timeout=60)
    role = wait_for(lambda: (body := ready(staying, token))["role"]["leads"] == list(SOURCES) and body, 60,
                    "the takeover of 'ris'", every=0.2)["role"]
    assert role["follows"] == []
    assert leader_gauges(staying, token) == {name: 1.0 for name in SOURCES}
    assert cluster.tracebacks() == []
