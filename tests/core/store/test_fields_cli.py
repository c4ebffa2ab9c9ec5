"""``pylantir worklist fields``: the catalogue's targets as a table and JSON, and the same table in the docs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from pylantir.store.catalogue import target_names

ROOT = Path(__file__).resolve().parents[3]
PYLANTIR = str(Path(sys.executable).with_name("pylantir"))
HEADERS = ["target", "attribute", "keyword", "VR", "level", "type", "note"]


def pylantir(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed console script."""
    return subprocess.run([PYLANTIR, *args], capture_output=True, text=True, timeout=60, check=False)


def documented_table() -> list[list[str]]:
    """The rows of the worklist fields table in docs/configuration.md (backticks removed)."""
    lines = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8").splitlines()
    start = lines.index("| " + " | ".join(HEADERS) + " |")
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip().replace("`", "") for cell in line.strip("|").split("|")])
    return rows


def test_json_lists_every_target_with_its_attribute() -> None:
    result = pylantir("worklist", "fields", "--json")
    assert result.returncode == 0, result.stderr
    fields = {row["target"]: row for row in json.loads(result.stdout)}
    assert set(fields) == {name.name for name in target_names()} | {"extra.<Keyword>"}
    assert fields["station_name"] == {
        "target": "station_name", "attribute": "(0040,0010) Scheduled Station Name",
        "keyword": "ScheduledStationName", "VR": "SH", "level": "SPS item", "type": "2", "note": "",
    }
    assert fields["performed_procedure_step_status"]["note"] == "alias of scheduled_procedure_step_status"
    assert fields["patient_name"]["type"] == "1, required"
    assert fields["scheduled_station_aetitle"]["type"] == "1, empty: UNASSIGNED"


def test_the_table_shows_the_same_rows() -> None:
    result = pylantir("worklist", "fields")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.split(r"\s{2,}", lines[0].strip()) == HEADERS
    shown = {line.split()[0] for line in lines[1:] if line and not line.startswith(" ")}
    assert shown == {row["target"] for row in json.loads(pylantir("worklist", "fields", "--json").stdout)}


def test_the_docs_table_is_the_commands_output() -> None:
    rows = json.loads(pylantir("worklist", "fields", "--json").stdout)
    assert documented_table() == [[row[header] for header in HEADERS] for row in rows]
