"""``pylantir sources list`` in a subprocess, as a user runs it."""

from __future__ import annotations

import json


def test_sources_list_json_shows_ok_and_broken_plugins(make_dist, plugin, cli):
    make_dist("pylantir-alpha", "alpha_plugin", plugin("alpha"), version="0.4")
    make_dist("pylantir-broken", "broken_plugin", "1/0\n")
    result = cli("sources", "list", "--json")
    assert result.returncode == 0, result.stderr
    listed = {p["name"]: p for p in json.loads(result.stdout)}
    assert listed["pylantir-alpha"]["status"] == "ok"
    assert listed["pylantir-alpha"]["source_types"][0]["name"] == "alpha"
    assert listed["pylantir-broken"]["status"] == "error"
    assert listed["pylantir-broken"]["phase"] == "import"
    assert "ZeroDivisionError" in listed["pylantir-broken"]["detail"]


def test_sources_list_table(make_dist, plugin, cli):
    make_dist("pylantir-alpha", "alpha_plugin", plugin("alpha"), version="0.4")
    make_dist("pylantir-broken", "broken_plugin", "1/0\n")
    result = cli("sources", "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["type", "plugin", "version", "status", "summary", "/", "problem"]
    assert any(line.split()[:4] == ["alpha", "pylantir-alpha", "0.4", "ok"] for line in lines)
    assert any(line.split()[:4] == ["-", "pylantir-broken", "1.0", "error"] for line in lines)


def test_plugins_dir_option(tmp_path, site_dir, plugin, cli):
    (tmp_path / "ris.py").write_text(plugin("ris"))
    result = cli("--plugins-dir", str(tmp_path), "sources", "list", "--json")
    assert {p["name"]: p["status"] for p in json.loads(result.stdout)}["ris"] == "ok"


def test_strict_mode_fails_on_a_broken_plugin(make_dist, cli):
    make_dist("pylantir-broken", "broken_plugin", "1/0\n")
    assert cli("sources", "list").returncode == 0
    strict = cli("sources", "list", env={"PYLANTIR_STRICT_PLUGINS": "1"})
    assert strict.returncode == 3
    assert "pylantir-broken 1.0: error (import)" in strict.stderr


def test_help_starts_even_with_a_broken_plugin(make_dist, cli):
    make_dist("pylantir-broken", "broken_plugin", "raise SystemExit(9)\n")
    result = cli("--help")
    assert result.returncode == 0 and "sources" in result.stdout
