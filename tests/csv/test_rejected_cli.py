"""What a sync rejected, through the CLI: ``sources rejected``, ``sync --fail-on-rejects`` for cron, and a bad
row the export keeps logged once per change of the source, not on every sync."""

from __future__ import annotations

import json
from pathlib import Path

HEADER = "mrn,name,dob,modality,exam_date\n"
GOOD = "M1,DOE^JANE,1971-02-11,MR,2026-12-01\n"
BAD_DATE = "M2,ROE^RICK,1971-02-31,MR,2026-12-01\n"
NO_MODALITY = "M3,POE^ANN,1980-12-25,,2026-12-01\n"


def write_site(tmp_path: Path, *rows: str) -> Path:
    (tmp_path / "export.csv").write_text(HEADER + "".join(rows))
    config = tmp_path / "pylantir.json"
    config.write_text(json.dumps({
        "database_url": "sqlite:///worklist.sqlite",
        "data_sources": [{"name": "ris", "type": "csv", "config": {"file_path": "export.csv"},
                          "field_mapping": {"mrn": "patient_id", "name": "patient_name", "dob": "patient_birth_date",
                                            "modality": "modality", "exam_date": "scheduled_start_date"}}],
    }))
    return config


def test_sources_rejected_lists_the_last_syncs_rejections(tmp_path, pylantir_cli):
    config = write_site(tmp_path, GOOD, BAD_DATE, NO_MODALITY)
    assert pylantir_cli("sync", "--config", config).returncode == 0
    listed = pylantir_cli("sources", "rejected", "--config", config, "--json")
    assert listed.returncode == 0, listed.stderr
    [run] = json.loads(listed.stdout)
    assert (run["source"], run["outcome"]) == ("ris", "success")
    assert [(r["location"], r["field"]) for r in run["rejected"]] == [
        ("export.csv, line 3", "patient_birth_date"), ("export.csv, line 4", "modality")]
    assert not any("ROE" in r["reason"] or "1971" in r["reason"] for r in run["rejected"])
    table = pylantir_cli("sources", "rejected", "ris", "--config", config)
    assert f"source ris, run {run['run']} (success" in table.stdout and "2 rejected" in table.stdout
    assert "export.csv, line 3" in table.stdout

    write_site(tmp_path, GOOD)
    assert pylantir_cli("sync", "--config", config).returncode == 0
    [latest] = json.loads(pylantir_cli("sources", "rejected", "--config", config, "--json").stdout)
    assert latest["run"] > run["run"] and latest["rejected"] == []
    [earlier] = json.loads(pylantir_cli("sources", "rejected", "--config", config, "--run", str(run["run"]),
                                        "--json").stdout)
    assert len(earlier["rejected"]) == 2


def test_unknown_sources_and_runs_are_clear_errors(tmp_path, pylantir_cli):
    config = write_site(tmp_path, GOOD)
    assert pylantir_cli("sync", "--config", config).returncode == 0
    unknown = pylantir_cli("sources", "rejected", "nope", "--config", config)
    assert unknown.returncode == 2 and "no data source named 'nope' (configured: ris)" in unknown.stderr
    missing = pylantir_cli("sources", "rejected", "--config", config, "--run", "999")
    assert missing.returncode == 1 and "no sync run 999" in missing.stderr


def test_sync_fails_on_rejects_only_when_asked(tmp_path, pylantir_cli):
    config = write_site(tmp_path, GOOD, BAD_DATE)
    assert pylantir_cli("sync", "--config", config).returncode == 0
    strict = pylantir_cli("sync", "--config", config, "--fail-on-rejects")
    assert strict.returncode == 1
    assert "source 'ris' rejected 1 row(s): see 'pylantir sources rejected ris'" in strict.stderr
    write_site(tmp_path, GOOD)
    assert pylantir_cli("sync", "--config", config, "--fail-on-rejects").returncode == 0


def test_a_bad_row_the_export_keeps_is_logged_once_per_change(tmp_path, pylantir_cli):
    config = write_site(tmp_path, GOOD, BAD_DATE)
    first = pylantir_cli("-v", "sync", "--config", config)
    assert first.stderr.count("rejected\n") == 1 and "line 3" in first.stderr
    again = pylantir_cli("-v", "sync", "--config", config)
    assert "WARNING" not in again.stderr
    assert "1 row(s) rejected as in the previous sync (not logged again)" in again.stderr
    write_site(tmp_path, GOOD, NO_MODALITY)
    changed = pylantir_cli("-v", "sync", "--config", config)
    assert changed.stderr.count("rejected\n") == 1 and "field modality" in changed.stderr
