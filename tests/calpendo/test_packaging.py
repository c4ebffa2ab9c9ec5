"""pylantir-calpendo installs, is found through its entry point, and provides type 'calpendo'."""

import subprocess
import sys
from datetime import datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from zoneinfo import ZoneInfo

from pylantir.testing import check_source_contract, load_distribution


def test_found_through_its_entry_point():
    registry, info = load_distribution("pylantir-calpendo")
    assert (info.distribution, info.version) == ("pylantir-calpendo", version("pylantir-calpendo"))
    assert registry.owner("calpendo") is info
    assert [t.name for t in info.source_types] == ["calpendo"]


def test_validate_config_reports_unknown_keys_with_their_path():
    registry, _ = load_distribution("pylantir-calpendo")
    problems = registry.validate_config("calpendo", {"no_such_option": 1})
    assert "no_such_option" in {problem.path for problem in problems}


def test_sources_list_shows_calpendo_ok_without_importing_the_http_client():
    listed = subprocess.run([str(Path(sys.executable).with_name("pylantir")), "sources", "list"],
                            capture_output=True, text=True, timeout=60, check=True)
    (row,) = [line.split() for line in listed.stdout.splitlines() if line.startswith("calpendo ")]
    assert row[1:4] == ["pylantir-calpendo", version("pylantir-calpendo"), "ok"]
    probe = "import pylantir_calpendo, sys; print('requests' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout == "False\n"


def test_it_keeps_the_contract_every_source_plugin_is_checked_against(serve, config_for):
    server = serve()
    server.add("SUB001_Jane", datetime.now(ZoneInfo("America/Edmonton")) + timedelta(hours=1))
    good = config_for(server, resource_modality_mapping={"3T": "MR"})
    registry, _ = load_distribution("pylantir-calpendo")
    entries = check_source_contract(
        registry, "calpendo", good_config=good,
        bad_configs={"timezone": {**good, "timezone": "Nowhere/Else"}, "colour": {**good, "colour": "red"}},
        field_mapping={"patient_id": {"from": "title"}, "patient_name": {"from": "title"},
                       "scheduled_start_date": {"from": "_source.start_date"},
                       "modality": {"from": "_source.modality"}},
        failing_config={**good, "api_path": "/webdav"},
    )
    assert [(e["patient_id"], e["modality"]) for e in entries] == [("SUB001_Jane", "MR")]
