"""Shared fixtures of the plugin-kit tests: a throw-away environment to pip-install plugins into.

A venv without pip is created in the test's temporary directory and given the test interpreter's
site-packages through a ``.pth`` file (so pylantir-core, pip, setuptools and pytest are there without
being reinstalled). Plugins are then installed into it with the test interpreter's pip, without
dependencies, without build isolation and without an index: nothing is downloaded.
"""

from __future__ import annotations

import importlib
import os
import re
import signal
import site
import socket
import subprocess
import sys
import sysconfig
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "plugins"
PLUGIN_ENV_VARS = ("PYLANTIR_LOAD_PLUGINS", "PYLANTIR_DISABLE_PLUGINS", "PYLANTIR_STRICT_PLUGINS", "PYLANTIR_CONFIG")


@dataclass
class PluginEnv:
    """A venv that sees the test interpreter's packages, plus what is pip-installed into it."""

    root: Path
    cwd: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def environ(self) -> dict[str, str]:
        """The test's environment without plugin switches, PYTHONPATH or a package index."""
        kept = {k: v for k, v in os.environ.items() if k not in PLUGIN_ENV_VARS and k != "PYTHONPATH"}
        return {**kept, "PIP_NO_INDEX": "1", **self.extra_env}

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``python ARGS`` inside the venv (in ``cwd``) and capture its output."""
        result = subprocess.run(
            [str(self.python), *args], cwd=self.cwd, capture_output=True, text=True, env=self.environ, timeout=300
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def pylantir(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the ``pylantir`` CLI inside the venv."""
        return self.run("-m", "pylantir", *args, check=check)

    def start(self, *args: str) -> subprocess.Popen[str]:
        """Start ``python ARGS`` inside the venv in the background (a server)."""
        return subprocess.Popen(
            [str(self.python), *args], cwd=self.cwd, env=self.environ, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )

    def pip_install(self, path: Path | str, *, editable: bool = False) -> None:
        """``pip install [-e] PATH`` with no dependencies, no build isolation and no index."""
        flags = ["--no-deps", "--no-build-isolation", "--no-index", "--disable-pip-version-check", "-q"]
        self.run("-m", "pip", "install", *flags, *(["-e"] if editable else []), str(path))


def create_plugin_env(directory: Path) -> PluginEnv:
    """A fresh venv in ``directory/venv`` (working directory ``directory``); skips without setuptools."""
    pytest.importorskip("setuptools", reason="building a plugin needs setuptools in the test environment")
    root = directory / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    purelib = sysconfig.get_path("purelib", vars={"base": str(root), "platbase": str(root)})
    parents = [*site.getsitepackages(), sysconfig.get_path("purelib")]
    lines = [f"import site; site.addsitedir({p!r})" for p in dict.fromkeys(parents) if Path(p).is_dir()]
    Path(purelib, "_parent_site.pth").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return PluginEnv(root, directory)


@pytest.fixture(scope="session")
def new_plugin_env() -> Callable[[Path], PluginEnv]:
    """``new_plugin_env(directory)`` makes a venv there (for fixtures wider than one test)."""
    return create_plugin_env


@pytest.fixture
def plugin_env(tmp_path: Path) -> PluginEnv:
    """A fresh venv for this test, working in ``tmp_path``."""
    return create_plugin_env(tmp_path)


def console_block(markdown: Path, command: str) -> list[str]:
    """The output lines shown under ``$ COMMAND`` in a ```console block of ``markdown``."""
    for block in re.findall(r"```console\n(.*?)```", markdown.read_text(encoding="utf-8"), re.S):
        lines = block.splitlines()
        if lines and lines[0] == f"$ {command}":
            return lines[1:]
    raise AssertionError(f"{markdown.name} shows no ```console block starting with '$ {command}'")


def assert_shown_output(markdown: Path, command: str, actual: str) -> None:
    """The output shown for ``command`` in the docs is what the command printed.

    Lines are compared word by word (table padding may differ); a ``...`` line in the docs stands
    for any number of lines.
    """
    shown = [line.split() for line in console_block(markdown, command)]
    printed = [line.split() for line in actual.splitlines()]
    if not _matches([None if words == ["..."] else words for words in shown], printed):
        raise AssertionError(
            f"{markdown.name}: the output shown for '$ {command}' is not what it prints now:\n"
            + "\n".join(" ".join(words) for words in printed)
        )


@pytest.fixture
def docs_output() -> Callable[[str, str, str], None]:
    """``docs_output(doc_file_name, command, printed)`` asserts the docs show what the command printed."""
    return lambda name, command, printed: assert_shown_output(DOCS / name, command, printed)


def _matches(pattern: list[list[str] | None], lines: list[list[str]]) -> bool:
    if not pattern:
        return not lines
    head, rest = pattern[0], pattern[1:]
    if head is None:
        return any(_matches(rest, lines[i:]) for i in range(len(lines) + 1))
    return bool(lines) and lines[0] == head and _matches(rest, lines[1:])


@pytest.fixture
def make_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], ModuleType]:
    """Write ``source`` as module ``name`` in a directory on sys.path, import it and return it."""
    directory = tmp_path / "modules"
    directory.mkdir()
    monkeypatch.syspath_prepend(str(directory))

    def make(name: str, source: str) -> ModuleType:
        (directory / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        importlib.invalidate_caches()
        monkeypatch.delitem(sys.modules, name, raising=False)
        return importlib.import_module(name)

    return make


#: A loose plugin file providing type ``sample``: config ``{"count": int, "fail": str}``.
SAMPLE_PLUGIN = '''
from datetime import date
from pylantir import ConfigProblem, Record, Rejected, SourceError, SourceType, hookimpl

@hookimpl
def source_types():
    return [SourceType("sample", "sample entries for tests")]

@hookimpl
def validate_config(config):
    problems = [ConfigProblem(key, "unknown key") for key in config if key not in ("count", "fail", "bad_rows")]
    if not isinstance(config.get("count", 1), int):
        problems.append(ConfigProblem("count", "must be an integer"))
    return problems

@hookimpl
def fetch_entries(source_name, config):
    if config.get("fail"):
        raise SourceError(f"source {source_name}: " + config["fail"])
    today = date.today().isoformat()
    for number in range(1, config.get("count", 2) + 1):
        yield Record({"id": f"S{number}", "who": f"Doe, Pat{number}", "day": today, "kind": "mr"}, f"row {number}")
    if config.get("bad_rows"):
        yield {"id": "S9", "who": "Bad, Date", "day": "31/31/2020", "kind": "mr"}
        yield Rejected("row 10", "unreadable row")
'''
SAMPLE_MAPPING = {"id": "patient_id", "who": "patient_name", "day": "scheduled_start_date", "kind": "modality"}


@pytest.fixture
def sample_plugin_dir(tmp_path: Path) -> Path:
    """A plugin directory holding the ``sample`` plugin as a loose file."""
    directory = tmp_path / "plugins"
    directory.mkdir()
    (directory / "sample_source.py").write_text(SAMPLE_PLUGIN, encoding="utf-8")
    return directory


@pytest.fixture
def sample_mapping() -> dict[str, str]:
    """The field_mapping that turns the ``sample`` plugin's records into worklist entries."""
    return dict(SAMPLE_MAPPING)


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(env: PluginEnv, config: Path) -> Iterator[int]:
    """``pylantir run --no-sync`` in the venv on a free port; yields the port once it accepts connections."""
    port = free_port()
    process = env.start("-m", "pylantir", "run", "--config", str(config), "--no-sync", "--no-http", "--port", str(port))
    try:
        deadline = time.monotonic() + 120  # generous: a loaded 2-core machine imports slowly
        while True:
            if process.poll() is not None:
                raise AssertionError(f"pylantir run exited {process.returncode}: {process.communicate()[1]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


@pytest.fixture
def serve() -> Callable[[PluginEnv, Path], AbstractContextManager[int]]:
    """``with serve(env, config) as port:`` runs the DICOM server from the venv on a free port."""
    return serving
