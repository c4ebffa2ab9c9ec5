"""The example third-party plugin examples/pylantir-sql: pip-installed, listed, its tests, synced, C-FIND."""

from __future__ import annotations

import io
import json
import tokenize
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Column, MetaData, String, Table, create_engine, insert

from pylantir.scaffold import PluginNames, render

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pylantir-sql"
FIELD_MAPPING = {
    "mrn": "patient_id", "patient": "patient_name", "exam_day": "scheduled_start_date", "modality": "modality",
}


def lines_of_code(source: str) -> int:
    """Lines holding code: blank lines, comments and docstrings do not count."""
    lines: set[int] = set()
    previous = tokenize.NEWLINE
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.ENDMARKER):
            continue
        statement_start = previous in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
        previous = token.type
        if token.type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            continue
        if token.type == tokenize.STRING and statement_start:
            continue  # a docstring
        lines.update(range(token.start[0], token.end[0] + 1))
    return len(lines)


def test_the_example_and_the_scaffolded_plugin_stay_small():
    """SC-003: a plugin in fewer than 50 lines of code; the scaffold's target is 30."""
    assert lines_of_code((EXAMPLE / "src" / "pylantir_sql" / "__init__.py").read_text()) < 50
    assert lines_of_code((EXAMPLE / "src" / "pylantir_sql" / "writeback.py").read_text()) < 50, "write-back too"
    scaffolded = render(PluginNames.from_name("demo"))["src/pylantir_demo/__init__.py"]
    assert lines_of_code(scaffolded) <= 30
    assert lines_of_code('"""doc"""\n\nimport os  # c\n\n\ndef f():\n    """doc."""\n    return os\n') == 3


def make_ris(url: str) -> None:
    """A RIS table ``exams`` with two exams today: one MR, one CT."""
    engine = create_engine(url)
    columns = [Column(name, String(64)) for name in ("mrn", "patient", "exam_day", "modality")]
    exams = Table("exams", MetaData(), *columns)
    with engine.begin() as connection:
        exams.create(connection)
        today = date.today().isoformat()
        connection.execute(insert(exams), [
            {"mrn": "RIS001", "patient": "Doe, Jane", "exam_day": today, "modality": "MR"},
            {"mrn": "RIS002", "patient": "Roe, Richard", "exam_day": today, "modality": "CT"},
        ])
    engine.dispose()


def write_config(directory: Path) -> Path:
    config = directory / "pylantir.json"
    source = {"name": "ris", "type": "sql", "config": {"url_env": "RIS_DATABASE_URL", "table": "exams"},
              "field_mapping": FIELD_MAPPING}
    worklist = f"sqlite:///{directory / 'worklist.sqlite'}"
    config.write_text(json.dumps({"database_url": worklist, "data_sources": [source]}))
    return config


@pytest.fixture(scope="module")
def sql_env(new_plugin_env, tmp_path_factory):
    """One venv with the example installed (not editable, as a site would), shared by this module's tests."""
    env = new_plugin_env(tmp_path_factory.mktemp("sql-env"))
    env.pip_install(EXAMPLE)
    return env


@pytest.fixture
def plugin_env(sql_env, monkeypatch):
    """The shared venv, with RIS_DATABASE_URL reset after each test."""
    monkeypatch.setattr(sql_env, "extra_env", {})
    return sql_env


def test_installed_listed_and_its_own_tests_pass(plugin_env):
    listed = json.loads(plugin_env.pylantir("sources", "list", "--json").stdout)
    [sql] = [p for p in listed if p["name"] == "pylantir-sql"]
    assert sql["status"] == "ok" and [t["name"] for t in sql["source_types"]] == ["sql"]
    assert sql["version"] == "0.1.0"
    result = plugin_env.run("-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests"))
    assert "7 passed" in result.stdout


def test_configured_checked_synced_and_found_over_cfind(plugin_env, database_url, serve, tmp_path):
    make_ris(database_url)
    plugin_env.extra_env["RIS_DATABASE_URL"] = database_url
    config = write_config(tmp_path)
    checked = json.loads(plugin_env.pylantir("sources", "check", "--config", str(config), "--fetch", "--json").stdout)
    assert sorted(entry["patient_id"] for entry in checked[0]["entries"]) == ["RIS001", "RIS002"]
    plugin_env.pylantir("sync", "--config", str(config))
    with serve(plugin_env, config) as port:
        found = plugin_env.pylantir("find", "127.0.0.1", str(port), "--called-ae", "PYLANTIR", "--modality", "CT",
                                    "--json")
    assert [(item["PatientID"], item["PatientName"]) for item in json.loads(found.stdout)] == [
        ("RIS002", "Roe^Richard")
    ]


def test_a_missing_table_fails_the_check_with_the_source_name(plugin_env, sqlite_url, tmp_path):
    plugin_env.extra_env["RIS_DATABASE_URL"] = sqlite_url
    result = plugin_env.pylantir("sources", "check", "--config", str(write_config(tmp_path)), "--fetch", check=False)
    assert result.returncode == 1
    assert "fetch failed: source ris: reading exams failed: NoSuchTableError" in result.stdout
