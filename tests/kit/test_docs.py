"""The plugin docs stay true, and every hook is covered: each hook of ``pylantir.hookspecs`` has a section
headed by its exact signature and a test that names it; shown code and version ranges are current."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from pylantir import hookspecs
from pylantir.plugins import HOOK_NAMES
from pylantir.scaffold import PluginNames, core_requirement, render

TESTS = Path(__file__).resolve().parents[1]
DOCS = TESTS.parent / "docs" / "plugins"
HOOKS_MD = DOCS / "hooks.md"
TUTORIAL = DOCS / "writing-a-source-plugin.md"
HOOKSPECS = {name: getattr(hookspecs, name) for name in HOOK_NAMES}
#: Commands whose output the docs show, and the test that runs them and compares.
CHECKED_COMMANDS = {
    "pylantir sources new demo --dir plugins": "test_author_journey.py",
    "pylantir sources list": "test_author_journey.py",
    "pylantir sources check --config pylantir.json --fetch": "test_author_journey.py",
}


def documented_signatures() -> dict[str, str]:
    headings = re.findall(r"^## `(.+)`$", HOOKS_MD.read_text(encoding="utf-8"), re.M)
    return {heading.split("(", 1)[0]: heading for heading in headings}


def code_signature(name: str) -> str:
    return name + str(inspect.signature(HOOKSPECS[name])).replace("'", "")


@pytest.mark.parametrize("name", sorted(HOOKSPECS))
def test_every_hook_is_documented_with_its_exact_signature(name):
    documented = documented_signatures()
    assert name in documented, f"hook {name} has no '## `{code_signature(name)}`' section in {HOOKS_MD}"
    assert documented[name] == code_signature(name)


def test_no_section_documents_a_hook_that_does_not_exist():
    assert set(documented_signatures()) <= set(HOOKSPECS)


def names_of_tests() -> set[str]:
    """The stem of every test file and the name of every test function in the test tree."""
    names = set()
    for path in TESTS.rglob("test_*.py"):
        names.add(path.stem)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names.update(
            node.name
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
        )
    return names


@pytest.mark.parametrize("name", sorted(HOOKSPECS))
def test_every_hook_has_a_test_that_names_it(name):
    named = sorted(test for test in names_of_tests() if name in test)
    assert named, f"hook {name} has no test: name a test file or test function after it (test_{name}_...)"


def test_the_tutorial_shows_the_module_the_scaffold_writes():
    module = render(PluginNames.from_name("demo"))["src/pylantir_demo/__init__.py"]
    blocks = re.findall(r"```python\n(.*?)```", TUTORIAL.read_text(encoding="utf-8"), re.S)
    assert module.strip() in [block.strip() for block in blocks]


def test_the_versioning_table_gives_the_range_the_scaffold_writes():
    table = (DOCS / "versioning.md").read_text(encoding="utf-8")
    for version, declared in re.findall(r"^\| (\d+\.\d+)\.x \| `(.+)` \|$", table, re.M):
        assert core_requirement(f"{version}.3") == declared


def test_every_shown_command_output_is_checked_by_a_test():
    shown = set()
    for markdown in DOCS.glob("*.md"):
        for block in re.findall(r"```console\n(.*?)```", markdown.read_text(encoding="utf-8"), re.S):
            command, *output = block.splitlines()
            if output:
                shown.add(command.removeprefix("$ "))
    assert shown == set(CHECKED_COMMANDS)


def test_relative_links_between_docs_resolve():
    for markdown in [*DOCS.glob("*.md"), DOCS.parents[1] / "examples" / "pylantir-sql" / "README.md"]:
        for target in re.findall(r"\]\(([^)#:]+)\)", markdown.read_text(encoding="utf-8")):
            assert (markdown.parent / target).exists(), f"{markdown.name} links to missing {target}"


def test_troubleshooting_quotes_the_messages_pylantir_prints(tmp_path):
    from pylantir.plugins import PluginRegistry

    (tmp_path / "forgot.py").write_text("from pylantir import SourceType\ndef source_types():\n    return []\n")
    (tmp_path / "typo.py").write_text(
        "from pylantir import SourceType, hookimpl\n"
        "@hookimpl\ndef source_types():\n    return [SourceType('t', 't')]\n"
        "@hookimpl\ndef fetch_entrys(config):\n    return []\n"
    )
    text = " ".join((DOCS / "troubleshooting.md").read_text(encoding="utf-8").split())
    for info in PluginRegistry.discover(tmp_path, entry_points=False, environ={}).plugins:
        assert info.detail.split(" (decorate")[0] in text, info.detail
