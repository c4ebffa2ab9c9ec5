"""Throughput of the REDCap plugin: full and incremental fetch through the fake REDCap on loopback.

Usage: python bench/redcap_fetch.py [--participants N] [--instances K]
Builds a longitudinal project of N participants with K ``mri`` instances each, serves it with the test
suite's fake REDCap (tests/redcap/conftest.py), and prints the wall time and entries/s of a full
export and of an incremental export with 1% of records changed, the row combination alone, and two
whole syncs (sync engine, mapping of the previous Pylantir's preset, SQLite in a temporary directory).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from pylantir import FetchState
from pylantir.config import DataSourceSettings
from pylantir.config.legacy_preset import LEGACY_REDCAP_PRESET
from pylantir.store import Database
from pylantir.sync.runner import sync_source
from pylantir.testing import load_distribution
from pylantir_redcap.config import RedcapConfig
from pylantir_redcap.fetch import fetch_records
from pylantir_redcap.rows import RowSelection

CONFTEST = Path(__file__).resolve().parent.parent / "tests" / "redcap" / "conftest.py"
CONFIG = {"repeat_instrument": "mri", "require_fields": ["mri_date", "mri_time"]}
FIELDS = frozenset({"study_id", "family_id", "youth_dob_y", "demo_sex", "mri_instance", "mri_date", "mri_time"})


def _fake_redcap():
    spec = importlib.util.spec_from_file_location("fake_redcap", CONFTEST)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _project(fake, participants: int, instances: int):
    project = fake.longitudinal_project()
    project.rows = []
    for n in range(1, participants + 1):
        base = {"record_id": str(n), "redcap_event_name": "t1_arm_1", "redcap_repeat_instrument": "",
                "redcap_repeat_instance": ""}
        project.rows.append(base | {"study_id": f"CPIP-{n}", "family_id": f"FAM-{n // 2}",
                                    "youth_dob_y": "2012", "demo_sex": "1"})
        for k in range(1, instances + 1):
            project.rows.append(base | {"redcap_repeat_instrument": "mri", "redcap_repeat_instance": k,
                                        "mri_instance": str(k), "mri_date": "2026-01-31", "mri_time": "14:30"})
    return project


def _timed(label: str, run) -> None:
    start = time.perf_counter()
    count = run()
    seconds = time.perf_counter() - start
    print(f"{label:44} {count:8d} entries {seconds * 1000:9.1f} ms {count / seconds:10.0f} entries/s")


def _bench_sync(project, participants: int) -> None:
    mapping = json.loads(json.dumps(LEGACY_REDCAP_PRESET).replace("{site}", "792"))
    source = DataSourceSettings(name="bench", type="redcap", config=CONFIG, field_mapping=mapping, timeout=600)
    registry = load_distribution("pylantir-redcap")[0]
    with tempfile.TemporaryDirectory() as directory:
        database = Database.open(f"sqlite:///{directory}/worklist.sqlite")
        try:
            _timed("sync engine: first sync (all inserted)", lambda: sync_source(database, registry, source).inserted)
            for n in range(2, participants + 1, 100):
                project.touch(str(n), datetime.now())
            # the earlier changes are still inside the 5-minute overlap: 2% are fetched
            _timed("sync engine: incremental sync (1% changed)",
                   lambda: sync_source(database, registry, source).fetched)
        finally:
            database.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--participants", type=int, default=5000)
    parser.add_argument("--instances", type=int, default=3)
    args = parser.parse_args()
    fake = _fake_redcap()
    project = _project(fake, args.participants, args.instances)
    server = fake.FakeRedcap(project)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    os.environ["REDCAP_API_URL"], os.environ["REDCAP_API_TOKEN"] = server.url, fake.TOKEN
    cfg = RedcapConfig.model_validate(CONFIG)
    rows = len(project.rows)
    try:
        state = FetchState()
        _timed(f"full export ({rows} rows)", lambda: sum(1 for _ in fetch_records("bench", cfg, FIELDS, state)))
        for n in range(1, args.participants + 1, 100):
            project.touch(str(n), datetime.now())
        incremental = FetchState(previous=dict(state.saved))
        _timed("incremental export (1% of records changed)",
               lambda: sum(1 for _ in fetch_records("bench", cfg, FIELDS, incremental)))
        flat = [server._flat(row, sorted(FIELDS), False) for row in project.rows]
        _timed(f"row combination only ({rows} rows)",
               lambda: sum(1 for _ in RowSelection(cfg, "bench").records(flat, "record_id")))
        _bench_sync(project, args.participants)
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
