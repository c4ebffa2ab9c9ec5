"""Plugin discovery through real packaging metadata: every status a plugin can end in."""

from __future__ import annotations

from pathlib import Path

import pytest

from pylantir.plugins import PluginRegistry, PluginStatus, PluginUnavailableError


def by_name(registry: PluginRegistry, name: str):
    [info] = [p for p in registry.plugins if p.name == name]
    return info


def test_entry_point_plugin_is_found_with_its_distribution(make_dist, plugin):
    make_dist("pylantir-alpha", "alpha_plugin", plugin("alpha"), version="2.3")
    registry = PluginRegistry.discover()
    info = by_name(registry, "pylantir-alpha")
    assert info.status is PluginStatus.OK
    assert (info.distribution, info.version) == ("pylantir-alpha", "2.3")
    assert [t.name for t in info.source_types] == ["alpha"]
    assert registry.owner("alpha") is info


def test_plugin_directory_file_is_found(tmp_path: Path, site_dir, plugin):
    plugins_dir = tmp_path / "plugins"
    plugins_dir.mkdir()
    (plugins_dir / "site_ris.py").write_text(plugin("ris"))
    (plugins_dir / "_helper.py").write_text("raise RuntimeError('never imported')")
    registry = PluginRegistry.discover(plugins_dir, entry_points=False)
    assert [(p.name, p.status) for p in registry.plugins] == [("site_ris", PluginStatus.OK)]
    assert registry.owner("ris").origin == str(plugins_dir / "site_ris.py")


def test_missing_plugin_directory_is_an_error_not_a_crash(tmp_path: Path):
    registry = PluginRegistry.discover(tmp_path / "nope", entry_points=False)
    assert registry.plugins[0].status is PluginStatus.ERROR
    assert "does not exist" in registry.plugins[0].detail


def test_broken_import_is_an_error_and_others_still_load(make_dist, plugin):
    make_dist("pylantir-broken", "broken_plugin", "import does_not_exist_anywhere\n")
    make_dist("pylantir-alpha", "alpha_plugin", plugin("alpha"))
    registry = PluginRegistry.discover()
    broken = by_name(registry, "pylantir-broken")
    assert (broken.status, broken.phase) == (PluginStatus.ERROR, "import")
    assert "ModuleNotFoundError" in broken.detail and "does_not_exist_anywhere" in broken.detail
    assert by_name(registry, "pylantir-alpha").status is PluginStatus.OK


def test_bad_hook_signature_is_a_register_error_and_registers_nothing(make_dist, plugin):
    body = """
    @hookimpl
    def validate_config(config, flavour):
        return []
    """
    make_dist("pylantir-sig", "sig_plugin", plugin("sig", body))
    registry = PluginRegistry.discover()
    info = by_name(registry, "pylantir-sig")
    assert (info.status, info.phase) == (PluginStatus.ERROR, "register")
    assert "flavour" in info.detail
    assert "sig" not in registry.source_types()


def test_hook_name_typo_is_an_error_with_a_hint(make_dist, plugin):
    body = """
    @hookimpl
    def fetch_entrys(config):
        return []
    """
    make_dist("pylantir-typo", "typo_plugin", plugin("typo", body))
    info = by_name(PluginRegistry.discover(), "pylantir-typo")
    assert (info.status, info.phase) == (PluginStatus.ERROR, "validate")
    assert "'fetch_entrys'" in info.detail and "did you mean 'fetch_entries'?" in info.detail


def test_forgotten_hookimpl_marks_the_plugin_empty(make_dist):
    source = """
    from pylantir import SourceType

    def source_types():
        return [SourceType("lost", "forgot the decorator")]
    """
    make_dist("pylantir-lost", "lost_plugin", source)
    info = by_name(PluginRegistry.discover(), "pylantir-lost")
    assert info.status is PluginStatus.EMPTY
    assert "source_types without @hookimpl" in info.detail


def test_invalid_declaration_is_a_validate_error(make_dist):
    source = """
    from pylantir import SourceType, hookimpl

    @hookimpl
    def source_types():
        return [SourceType("Bad Name!", "not a valid type name")]
    """
    make_dist("pylantir-badname", "badname_plugin", source)
    info = by_name(PluginRegistry.discover(), "pylantir-badname")
    assert (info.status, info.phase) == (PluginStatus.ERROR, "validate")
    assert "Bad Name!" in info.detail


def test_duplicate_source_type_marks_both_as_conflict(make_dist, plugin):
    make_dist("pylantir-one", "one_plugin", plugin("dup"), version="1.0")
    make_dist("pylantir-two", "two_plugin", plugin("dup"), version="2.0")
    registry = PluginRegistry.discover()
    one, two = by_name(registry, "pylantir-one"), by_name(registry, "pylantir-two")
    assert one.status is two.status is PluginStatus.CONFLICT
    assert "pylantir-two 2.0" in one.detail and "pylantir-one 1.0" in two.detail
    with pytest.raises(PluginUnavailableError) as excinfo:
        registry.owner("dup", "site_a")
    message = str(excinfo.value)
    assert "source 'site_a'" in message
    assert "pylantir-one 1.0 and pylantir-two 2.0" in message
    assert "pip uninstall pylantir-one" in message


def test_missing_type_message_names_installed_types_and_a_guess(make_dist, plugin):
    make_dist("pylantir-alpha", "alpha_plugin", plugin("alpha"))
    registry = PluginRegistry.discover()
    with pytest.raises(PluginUnavailableError) as excinfo:
        registry.owner("alpah", "nightly")
    message = str(excinfo.value)
    assert "source 'nightly' (type 'alpah')" in message
    assert "alpha" in message.split("Installed types:")[1]
    assert "Did you mean 'alpha'?" in message
    assert "pylantir-core" in message


def test_load_allow_list_acts_before_import(make_dist, plugin, monkeypatch, tmp_path):
    marker = tmp_path / "imported"
    make_dist("pylantir-noisy", "noisy_plugin", f"open({str(marker)!r}, 'w').close()\n")
    make_dist("pylantir-alpha", "alpha_plugin", plugin("alpha"))
    monkeypatch.setenv("PYLANTIR_LOAD_PLUGINS", "pylantir-alpha")
    registry = PluginRegistry.discover()
    assert by_name(registry, "pylantir-noisy").status is PluginStatus.DISABLED
    assert by_name(registry, "pylantir-alpha").status is PluginStatus.OK
    assert not marker.exists()


def test_empty_allow_list_loads_nothing(make_dist, plugin, monkeypatch):
    make_dist("pylantir-alpha", "alpha_plugin", plugin("alpha"))
    monkeypatch.setenv("PYLANTIR_LOAD_PLUGINS", "")
    registry = PluginRegistry.discover()
    assert registry.plugins and all(p.status is PluginStatus.DISABLED for p in registry.plugins)
    assert registry.source_types() == {}


def test_deny_list_switches_off_a_broken_plugin_and_use_says_so(make_dist, monkeypatch):
    make_dist("pylantir-broken", "broken_plugin", "raise SystemExit('boom at import')\n")
    monkeypatch.setenv("PYLANTIR_DISABLE_PLUGINS", "pylantir_broken")
    registry = PluginRegistry.discover()
    info = by_name(registry, "pylantir-broken")
    assert info.status is PluginStatus.DISABLED and "PYLANTIR_DISABLE_PLUGINS" in info.detail
    with pytest.raises(PluginUnavailableError, match="pylantir-broken 1.0 is disabled"):
        registry.owner("broken", "src")


def test_a_plugin_raising_systemexit_at_import_is_contained(make_dist):
    make_dist("pylantir-exit", "exit_plugin", "raise SystemExit(3)\n")
    info = by_name(PluginRegistry.discover(), "pylantir-exit")
    assert (info.status, info.phase) == (PluginStatus.ERROR, "import")
