"""Fixtures that make real plugin distributions: a module plus a ``*.dist-info`` with entry points."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

DistMaker = Callable[..., Path]


@pytest.fixture
def site_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory on sys.path (and PYTHONPATH, for subprocesses) where test distributions live."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    for name in ("PYLANTIR_LOAD_PLUGINS", "PYLANTIR_DISABLE_PLUGINS", "PYLANTIR_STRICT_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
    return site


@pytest.fixture
def make_dist(site_dir: Path) -> DistMaker:
    """Write an installed-looking distribution whose entry point in group ``pylantir`` is a module."""

    def make(dist_name: str, module_name: str, source: str, version: str = "1.0") -> Path:
        (site_dir / f"{module_name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        info = site_dir / f"{dist_name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {version}\n", encoding="utf-8"
        )
        (info / "entry_points.txt").write_text(
            f"[pylantir]\n{dist_name} = {module_name}\n", encoding="utf-8"
        )
        importlib.invalidate_caches()
        sys.modules.pop(module_name, None)
        return info

    return make


def plugin_source(type_name: str, body: str = "") -> str:
    """Source of a minimal valid plugin module providing ``type_name``, plus ``body``."""
    return textwrap.dedent(
        f"""
        from pylantir import ConfigProblem, SourceType, hookimpl

        @hookimpl
        def source_types():
            return [SourceType({type_name!r}, "test source {type_name}")]
        """
    ) + textwrap.dedent(body)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pylantir ARGS`` in a subprocess, as a user would, and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "pylantir", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


@pytest.fixture
def plugin() -> Callable[..., str]:
    return plugin_source


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_cli
