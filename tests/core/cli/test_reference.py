"""docs/cli.md holds every command's ``--help`` exactly as the CLI prints it (a test keeps them identical).

After changing a command, regenerate the reference with
``PYLANTIR_UPDATE_CLI_REFERENCE=1 pytest tests/core/cli/test_reference.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from click.testing import CliRunner

from pylantir.cli.main import cli

REFERENCE = Path(__file__).parents[3] / "docs" / "cli.md"
BEGIN = "<!-- generated from the commands' --help: do not edit below -->\n"
UPDATE_ENV = "PYLANTIR_UPDATE_CLI_REFERENCE"


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command of the CLI, groups first, in alphabetical order."""
    paths = [prefix]
    context = click.Context(group)
    for name in sorted(group.list_commands(context)):  # the top level imports its commands on use
        command = group.get_command(context, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            paths += command_paths(command, (*prefix, name))
        else:
            paths.append((*prefix, name))
    return paths


def help_text(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="pylantir", terminal_width=100)
    assert result.exit_code == 0, result.output
    return result.output


def generated() -> str:
    sections = []
    for path in command_paths(cli):
        title = " ".join(("pylantir", *path))
        sections.append(f"## `{title}`\n\n```text\n{help_text(path)}```\n")
    return BEGIN + "\n" + "\n".join(sections)


def test_the_reference_is_every_commands_help() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    assert BEGIN in text, f"{REFERENCE} lost its marker line"
    written = text[text.index(BEGIN):]
    expected = generated()
    if os.environ.get(UPDATE_ENV) and written != expected:
        REFERENCE.write_text(text[: text.index(BEGIN)] + expected, encoding="utf-8")
        written = expected
    assert written == expected, f"docs/cli.md is out of date: regenerate it with {UPDATE_ENV}=1 (see {__file__})"
