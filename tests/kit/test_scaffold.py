"""``pylantir sources new``: names, the files written, refusals."""

from __future__ import annotations

import tomllib

import pytest
from click.testing import CliRunner

from pylantir import __version__
from pylantir.cli.main import cli
from pylantir.scaffold import PluginNames, ScaffoldError, core_requirement


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("demo", ("demo", "pylantir-demo", "pylantir_demo")),
        ("my-ris", ("my-ris", "pylantir-my-ris", "pylantir_my_ris")),
        ("pylantir-ris", ("ris", "pylantir-ris", "pylantir_ris")),
    ],
)
def test_names(name, expected):
    names = PluginNames.from_name(name)
    assert (names.type_name, names.distribution, names.module) == expected


@pytest.mark.parametrize("name", ["Demo", "1ris", "my ris", "", "ris!"])
def test_invalid_names_are_refused(name):
    with pytest.raises(ScaffoldError, match="lower-case letters"):
        PluginNames.from_name(name)


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("0.1.0", "pylantir-core>=0.1,<0.2"),
        ("0.12.3rc1", "pylantir-core>=0.12,<0.13"),
        ("1.2.0", "pylantir-core>=1.2,<2"),
    ],
)
def test_core_requirement(version, expected):
    assert core_requirement(version) == expected


def test_new_writes_a_distribution_with_entry_point_and_core_range(tmp_path):
    result = CliRunner().invoke(cli, ["sources", "new", "ris", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    root = tmp_path / "pylantir-ris"
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert files == ["README.md", "pyproject.toml", "src/pylantir_ris/__init__.py", "tests/test_pylantir_ris.py"]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["name"] == "pylantir-ris"
    assert project["entry-points"]["pylantir"] == {"pylantir-ris": "pylantir_ris"}
    assert project["dependencies"] == [core_requirement(__version__)]
    compile((root / "src/pylantir_ris/__init__.py").read_text(), "plugin", "exec")
    compile((root / "tests/test_pylantir_ris.py").read_text(), "tests", "exec")
    assert '"type": "ris"' in (root / "README.md").read_text()


def test_new_refuses_an_existing_directory_and_keeps_it(tmp_path):
    (tmp_path / "pylantir-ris").mkdir()
    (tmp_path / "pylantir-ris" / "mine.txt").write_text("keep me")
    result = CliRunner().invoke(cli, ["sources", "new", "ris", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert (tmp_path / "pylantir-ris" / "mine.txt").read_text() == "keep me"


def test_new_refuses_a_type_an_installed_plugin_provides(tmp_path, monkeypatch):
    monkeypatch.delenv("PYLANTIR_LOAD_PLUGINS", raising=False)
    result = CliRunner().invoke(cli, ["sources", "new", "csv", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "already provided by pylantir-csv" in result.output
    assert not (tmp_path / "pylantir-csv").exists()


def test_new_refuses_a_bad_name_with_usage_error(tmp_path):
    result = CliRunner().invoke(cli, ["sources", "new", "Bad Name", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "invalid plugin name 'Bad Name'" in result.output
