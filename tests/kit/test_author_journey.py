"""The plugin author's journey with real packaging, following the tutorial step by step.

scaffold -> pip install -e into a venv -> listed -> its generated tests pass -> configured in a
config file -> checked -> synced -> C-FIND returns its entries. The outputs the tutorial shows are
compared with what the commands print.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

TUTORIAL = "writing-a-source-plugin.md"
DOCS_DATE = "20250301"  # the date the tutorial's outputs show for "today"


def tutorial_config() -> str:
    text = (Path(__file__).resolve().parents[2] / "docs" / "plugins" / TUTORIAL).read_text(encoding="utf-8")
    [config] = [block for block in re.findall(r"```json\n(.*?)```", text, re.S) if '"data_sources"' in block]
    return config


def test_scaffold_install_list_test_configure_sync_and_find(plugin_env, docs_output, serve):
    created = plugin_env.pylantir("sources", "new", "demo", "--dir", "plugins")
    docs_output(TUTORIAL, "pylantir sources new demo --dir plugins", created.stdout)

    plugin_env.pip_install("plugins/pylantir-demo", editable=True)
    listed = plugin_env.pylantir("sources", "list")
    docs_output(TUTORIAL, "pylantir sources list", listed.stdout)
    as_json = json.loads(plugin_env.pylantir("sources", "list", "--json").stdout)
    [demo] = [p for p in as_json if p["name"] == "pylantir-demo"]
    assert demo["status"] == "ok" and demo["origin"] == "entry point pylantir-demo = pylantir_demo"

    tests = plugin_env.run("-m", "pytest", "-q", "-p", "no:cacheprovider", "plugins/pylantir-demo/tests")
    assert "3 passed" in tests.stdout

    (plugin_env.cwd / "pylantir.json").write_text(tutorial_config(), encoding="utf-8")
    checked = plugin_env.pylantir("sources", "check", "--config", "pylantir.json", "--fetch")
    today = date.today().strftime("%Y%m%d")
    command = "pylantir sources check --config pylantir.json --fetch"
    docs_output(TUTORIAL, command, checked.stdout.replace(today, DOCS_DATE))
    assert not (plugin_env.cwd / "worklist.sqlite").exists(), "sources check must not touch the database"

    synced = plugin_env.pylantir("sync", "--config", "pylantir.json")
    assert re.search(r"^demo-sample\s+success\s+2\s+2\b", synced.stdout, re.M), synced.stdout

    with serve(plugin_env, plugin_env.cwd / "pylantir.json") as port:
        found = plugin_env.pylantir("find", "127.0.0.1", str(port), "--called-ae", "PYLANTIR", "--json")
    items = json.loads(found.stdout)
    assert sorted(str(item["PatientID"]) for item in items) == ["0001", "0002"], found.stdout


def test_an_edited_plugin_is_used_without_reinstalling(plugin_env):
    """An editable install picks up code changes: the author's edit-check loop needs no pip call."""
    plugin_env.pylantir("sources", "new", "demo", "--dir", "plugins")
    plugin_env.pip_install("plugins/pylantir-demo", editable=True)
    module = plugin_env.cwd / "plugins/pylantir-demo/src/pylantir_demo/__init__.py"
    module.write_text(module.read_text().replace("Sample scheduled exams", "Exams from our RIS"))
    listed = json.loads(plugin_env.pylantir("sources", "list", "--json").stdout)
    [demo] = [p for p in listed if p["name"] == "pylantir-demo"]
    assert demo["source_types"][0]["summary"] == "Exams from our RIS (replace with your system)"
