"""The example source of docs/sources-calpendo.md is valid and gives what the page says."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner

from pylantir.cli.main import cli

DOC = Path(__file__).resolve().parents[2] / "docs" / "sources-calpendo.md"


def _example_source() -> dict:
    block = re.search(r"## A source\n\n```json\n(.*?)\n```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert block, f"{DOC} has no example source"
    return json.loads(block.group(1))


def test_documented_example_syncs_what_the_page_says(serve, tmp_path):
    server = serve()
    now = datetime.now(ZoneInfo("America/Edmonton"))
    booking = server.add("SUB001_Jane^Doe", now.replace(hour=23, minute=0, second=0, microsecond=0),
                         operator="Tech Smith")
    server.add("SUB002_John^Roe", now.replace(hour=23, minute=30, second=0, microsecond=0), status="Cancelled")
    source = _example_source()
    source["config"].update(base_url=server.url)  # the page's server is yoursite.calpendo.com
    config = tmp_path / "pylantir.json"
    config.write_text(json.dumps({"database_url": f"sqlite:///{tmp_path / 'worklist.sqlite'}",
                                  "timezone": "America/Edmonton", "data_sources": [source]}), encoding="utf-8")
    runner = CliRunner()
    for command in (["config", "check", str(config)], ["sync", "--config", str(config)]):
        result = runner.invoke(cli, command)
        assert result.exit_code == 0, result.output
    listed = runner.invoke(cli, ["worklist", "list", "--config", str(config), "--json", "--status", "SCHEDULED"])
    (item,) = json.loads(listed.output)
    assert (item["patient_id"], item["patient_name"], item["modality"], item["accession_number"]) == (
        "SUB001", "Jane^Doe", "MR", str(booking.id))
    assert (item["requested_procedure_description"], item["performing_physician"]) == ("BRISKP", "Smith^Tech")
