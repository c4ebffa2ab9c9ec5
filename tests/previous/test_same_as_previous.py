"""A REDCap ``data_sources`` configuration of the previous Pylantir 0.4.6, synced by it and by Pylantir
from the same fake REDCap: the same patients (IDs, names), dates and times."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

PYLANTIR = str(Path(sys.executable).with_name("pylantir"))


def test_a_0_4_6_redcap_config_gives_the_same_worklist_as_0_4_6(previous, kit, http_servers, tmp_path):
    now = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    redcap = http_servers(kit.fake_redcap.FakeRedcap(kit.cpip_project(now)))
    env = kit.credentials(redcap.url)
    theirs = previous("0.4.6", kit.data_sources_config(tmp_path / "previous.db", redcap.url, None), env)
    rows = theirs.wait_for(lambda found: len(found) == 3, "3 worklist rows")
    theirs.stop()

    ours_config = tmp_path / "same.json"
    ours = kit.data_sources_config(tmp_path / "ours.db", redcap.url, None)
    ours_config.write_text(json.dumps(ours), encoding="utf-8")
    environment = {**{k: v for k, v in os.environ.items() if not k.startswith("PYLANTIR_")}, **env}
    for command in (["sync"], ["worklist", "list", "--json"]):
        done = subprocess.run([PYLANTIR, *command, "--config", str(ours_config)], capture_output=True, text=True,
                              env=environment, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
    assert done.stderr.count("DEPRECATED") == 1
    listed = json.loads(done.stdout)

    assert {(i["patient_id"], i["patient_name"], i["scheduled_start_date"], i["scheduled_start_time"][:4])
            for i in listed} == {
        (r["patient_id"], r["patient_name"], r["scheduled_start_date"].replace("-", ""),
         r["scheduled_start_time"].replace(":", "")) for r in rows}
    assert {r["patient_id"] for r in rows} >= {"sub_ng_1002_ses_1_fam_502_site_792"}  # 0.4.6's neuro-PCP prefix
    assert {i["protocol_name"] for i in listed} == {r["protocol_name"] for r in rows} == {"BRAIN_MRI_3T"}
    assert {i["modality"] for i in listed} == {r["modality"] for r in rows} == {"MR"}
