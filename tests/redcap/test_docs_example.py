"""The example source of docs/sources-redcap.md is valid and syncs what the page says."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from pylantir.cli.main import cli

DOC = Path(__file__).resolve().parents[2] / "docs" / "sources-redcap.md"


def _example_source() -> dict:
    block = re.search(r"## A source\n\n```json\n(.*?)\n```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert block, f"{DOC} has no example source"
    return json.loads(block.group(1))


def test_documented_example_syncs(serve, longitudinal, tmp_path):
    serve(longitudinal)
    config = tmp_path / "pylantir.json"
    config.write_text(json.dumps({
        "database_url": f"sqlite:///{tmp_path / 'worklist.sqlite'}", "data_sources": [_example_source()],
    }), encoding="utf-8")
    runner = CliRunner()
    for command in (["config", "check", str(config)], ["sync", "--config", str(config)]):
        result = runner.invoke(cli, command)
        assert result.exit_code == 0, result.output
    listed = runner.invoke(cli, ["worklist", "list", "--config", str(config), "--json"])
    items = {item["patient_id"]: item for item in json.loads(listed.output)}
    assert sorted(items) == ["sub_1001_ses_1_site_792", "sub_1001_ses_2_site_792", "sub_1002_ses_1_site_792"]
    first = items["sub_1001_ses_1_site_792"]
    assert (first["patient_sex"], first["protocol_name"], first["scheduled_start_date"]) == (
        "F", "BRAIN_MRI_3T", "20260131",
    )
    assert first["study_instance_uid"].startswith("2.25.")
