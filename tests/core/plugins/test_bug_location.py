"""A plugin's error points at the plugin's own line (the last frame inside it), not at the stdlib frame below."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from pylantir import FetchState
from pylantir.plugins import PluginBugError, PluginRegistry, PluginStatus

# Every failure below happens inside a standard-library call (json, datetime): the innermost frame of the
# traceback is in the standard library, the plugin's own line is the one marked "# <- plugin line".
FAILING_PLUGIN = """
import json
from datetime import datetime

from pylantir import SourceType, hookimpl

@hookimpl
def source_types():
    return [SourceType("fragile", "fails inside the standard library")]

@hookimpl
def validate_config(config):
    json.loads(config["text"])  # <- plugin line
    return []

@hookimpl
def fetch_entries(config):
    yield {"patient_id": "P1"}
    yield {"when": datetime.strptime(config["when"], "%Y-%m-%d")}  # <- plugin line
"""


def marked_line(path: Path, occurrence: int = 0) -> str:
    """``/real/path/file.py:N`` of the ``occurrence``-th line marked "# <- plugin line"."""
    lines = path.read_text(encoding="utf-8").splitlines()
    numbers = [number for number, line in enumerate(lines, start=1) if line.endswith("# <- plugin line")]
    return f"{os.path.realpath(path)}:{numbers[occurrence]}"


@pytest.fixture
def fragile(make_dist, site_dir: Path) -> tuple[PluginRegistry, Path]:
    make_dist("pylantir-fragile", "fragile_plugin", FAILING_PLUGIN)
    registry = PluginRegistry()
    registry.load_entry_points(only="pylantir-fragile")
    return registry, site_dir / "fragile_plugin.py"


def test_a_hook_call_failing_inside_the_stdlib_points_at_the_plugin_line(fragile):
    registry, path = fragile
    with pytest.raises(PluginBugError) as raised:
        registry.validate_config("fragile", {"text": "{not json"})
    message = str(raised.value)
    assert message.startswith("plugin pylantir-fragile 1.0, hook validate_config: JSONDecodeError: ")
    assert message.endswith(f"({marked_line(path, 0)})")
    assert "decoder.py" not in message


def test_an_iteration_failing_inside_the_stdlib_points_at_the_plugin_line(fragile):
    registry, path = fragile
    items = iter(registry.fetch_entries("fragile", "site", {"when": "25/11/2026"}, frozenset(), FetchState()))
    assert next(items) == {"patient_id": "P1"}
    with pytest.raises(PluginBugError) as raised:
        next(items)
    message = str(raised.value)
    assert message.startswith("plugin pylantir-fragile 1.0, hook fetch_entries: ValueError: time data")
    assert message.endswith(f"({marked_line(path, 1)})")
    assert isinstance(raised.value.__cause__, ValueError)


def test_an_import_failing_inside_the_stdlib_points_at_the_plugin_line(make_dist, site_dir: Path):
    make_dist("pylantir-badimport", "badimport_plugin", 'import json\nSETTINGS = json.loads("{")  # <- plugin line\n')
    registry = PluginRegistry()
    registry.load_entry_points(only="pylantir-badimport")
    [info] = registry.plugins
    assert (info.status, info.phase) == (PluginStatus.ERROR, "import")
    assert info.detail.endswith(f"({marked_line(site_dir / 'badimport_plugin.py')})")


def test_the_line_may_be_in_any_module_of_the_plugin_package(site_dir: Path, make_dist):
    package = site_dir / "pylantir_pkgplugin"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent("""
        from pylantir import SourceType, hookimpl
        from pylantir_pkgplugin.helpers import parse_day

        @hookimpl
        def source_types():
            return [SourceType("pkg", "a plugin that is a package")]

        @hookimpl
        def validate_config(config):
            parse_day(config["day"])
            return []
    """))
    (package / "helpers.py").write_text(textwrap.dedent("""
        from datetime import datetime

        def parse_day(text):
            return datetime.strptime(text, "%Y-%m-%d")  # <- plugin line
    """))
    info_dir = make_dist("pylantir-pkgplugin", "pylantir_pkgplugin_unused", "")
    (info_dir / "entry_points.txt").write_text("[pylantir]\npylantir-pkgplugin = pylantir_pkgplugin\n")
    registry = PluginRegistry()
    registry.load_entry_points(only="pylantir-pkgplugin")
    with pytest.raises(PluginBugError) as raised:
        registry.validate_config("pkg", {"day": "not a day"})
    assert str(raised.value).endswith(f"({marked_line(package / 'helpers.py')})")


def test_a_declaration_failing_inside_the_stdlib_points_at_the_plugin_file(tmp_path: Path):
    (tmp_path / "declares.py").write_text(textwrap.dedent("""
        import json
        from pylantir import SourceType, hookimpl

        @hookimpl
        def source_types():
            return [SourceType(json.loads("'x'"), "never")]  # <- plugin line
    """))
    [info] = PluginRegistry.discover(tmp_path, entry_points=False, environ={}).plugins
    assert (info.status, info.phase) == (PluginStatus.ERROR, "validate")
    assert info.detail.endswith(f"({marked_line(tmp_path / 'declares.py')})")


def test_sources_check_fetch_shows_the_plugin_line(tmp_path: Path, site_dir, cli):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "fragile.py").write_text(FAILING_PLUGIN)
    config = tmp_path / "pylantir.json"
    config.write_text(json.dumps({
        "database_url": f"sqlite:///{tmp_path / 'worklist.sqlite'}",
        "plugins_dir": str(plugins),
        "data_sources": [{
            "name": "site", "type": "fragile", "config": {"text": "{}", "when": "25/11/2026"},
            "field_mapping": {"patient_id": "patient_id"},
        }],
    }))
    result = cli("sources", "check", "--config", str(config), "--fetch", "--json")
    assert result.returncode == 1, result.stderr
    [report] = json.loads(result.stdout)
    assert report["error"].endswith(f"({marked_line(plugins / 'fragile.py', 1)})")
