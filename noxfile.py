"""Test, lint, isolation and build sessions for the whole Pylantir ecosystem.

``nox`` runs the default sessions (what CI runs); ``nox -s tests`` runs one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).parent
CORE = "packages/pylantir-core"
PLUGINS = {
    "pylantir-csv": "packages/pylantir-csv",
    "pylantir-json": "packages/pylantir-json",
    "pylantir-redcap": "packages/pylantir-redcap",
    "pylantir-calpendo": "packages/pylantir-calpendo",
}
# the source types each plugin provides (`sources list` must show exactly these as ok)
PLUGIN_TYPES = {
    "pylantir-csv": {"csv"},
    "pylantir-json": {"json"},
    "pylantir-redcap": {"redcap", "redcap_concussion"},
    "pylantir-calpendo": {"calpendo"},
}
BUILTIN_TYPES = set().union(*PLUGIN_TYPES.values())
# setuptools with bdist_wheel: the kit tests build plugins without build isolation (and without an index)
# httpx: the tests talk to the running HTTP service (API, DICOMweb, pages) over real HTTP; selenium drives
# the dashboard in headless Chromium
TEST_TOOLS = ["pytest>=8", "psycopg2-binary>=2.9", "cryptography>=42", "setuptools>=70.1", "httpx>=0.27",
              "selenium>=4.20"]

nox.options.sessions = ["lint", "typing", "tests", "isolation", "build", "kit"]
nox.options.reuse_existing_virtualenvs = False


@nox.session
def tests(session: nox.Session) -> None:
    """All tests but the plugin-author kit's (session ``kit``), with every distribution installed from
    the local tree (not editable)."""
    session.install(CORE, *PLUGINS.values(), *TEST_TOOLS)
    session.run("pytest", *(session.posargs or ["tests", "--ignore=tests/kit"]))


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the packages, tests, benchmarks and this file."""
    session.install("ruff")
    session.run("ruff", "check", "packages", "tests", "noxfile.py", *_existing("bench", "examples"))


@nox.session(name="typing")
def type_check(session: nox.Session) -> None:
    """mypy (with the pydantic plugin) over every distribution's sources; settings in mypy.ini."""
    # the distributions' dependencies give mypy their types; the sources themselves are read from src/
    session.install("mypy", CORE, *PLUGINS.values())
    session.run("mypy", *session.posargs)


@nox.session
def isolation(session: nox.Session) -> None:
    """Core alone, then core plus each plugin alone: no hidden cross-dependency between distributions."""
    session.install(CORE, *TEST_TOOLS)
    session.run("pylantir", "sources", "list")
    session.run("pytest", "tests/core")
    for name, path in PLUGINS.items():
        session.run("pip", "uninstall", "-y", *(other for other in PLUGINS if other != name), silent=True)
        # core and plugin in one pip call, from local paths, so pip never asks the index for pylantir-core
        session.install(CORE, path)
        listed = session.run("pylantir", "sources", "list", "--json", silent=True)
        _assert_types(session, listed, PLUGIN_TYPES[name])
        session.run("pytest", f"tests/{name.removeprefix('pylantir-')}")


@nox.session
def build(session: nox.Session) -> None:
    """Build sdists and wheels of every distribution into dist/, then install the wheels alone into a fresh venv."""
    session.install("build")
    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    for path in (CORE, *PLUGINS.values()):
        session.run("python", "-m", "build", "--outdir", str(dist), path, silent=True)
    wheels = sorted(str(p) for p in dist.glob("*.whl"))
    expected = 1 + len(PLUGINS)
    if len(wheels) != expected or len(list(dist.glob("*.tar.gz"))) != expected:
        found = sorted(p.name for p in dist.iterdir())
        session.error(f"expected {expected} wheels and {expected} sdists in {dist}, found {found}")
    _assert_typed(session, wheels)
    venv = Path(session.create_tmp()) / "wheel-venv"
    shutil.rmtree(venv, ignore_errors=True)
    session.run("python", "-m", "venv", str(venv))
    session.run(str(venv / "bin" / "pip"), "install", "-q", *wheels, external=True)
    listed = session.run(str(venv / "bin" / "pylantir"), "sources", "list", "--json", external=True, silent=True)
    _assert_types(session, listed, BUILTIN_TYPES)


@nox.session
def kit(session: nox.Session) -> None:
    """Plugin-author kit: scaffold -> pip install -e -> listed -> tested -> synced -> C-FIND; the example plugin."""
    session.install(CORE, *PLUGINS.values(), *TEST_TOOLS)
    session.run("pytest", "tests/kit", *session.posargs)


def _assert_types(session: nox.Session, listed: str | None, expected: set[str]) -> None:
    import json

    plugins = json.loads(listed or "[]")
    ok = {t["name"] for p in plugins if p["status"] == "ok" for t in p["source_types"]}
    if ok != expected:
        session.error(f"sources list shows ok types {sorted(ok)}, expected {sorted(expected)}")
    session.log(f"sources list: ok types {sorted(ok)}")


def _assert_typed(session: nox.Session, wheels: list[str]) -> None:
    """Every wheel ships its package's py.typed marker, so mypy reads the types of an installed distribution."""
    import zipfile

    for wheel in wheels:
        package = Path(wheel).name.split("-")[0].replace("pylantir_core", "pylantir")
        if f"{package}/py.typed" not in zipfile.ZipFile(wheel).namelist():
            session.error(f"{Path(wheel).name} has no {package}/py.typed")


def _existing(*paths: str) -> list[str]:
    return [p for p in paths if (ROOT / p).exists()]
