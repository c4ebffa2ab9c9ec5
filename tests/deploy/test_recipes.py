"""The deployment recipes of ``deploy/`` (docs/deployment.md): what can be run on a test machine is run.

- ``deploy/install.sh`` (the container image's build step, and a host install) into a temporary prefix: the
  installed ``pylantir`` answers, loads its plugins strictly and accepts the compose configuration;
- the systemd unit passes ``systemd-analyze verify`` with its ``ExecStart`` pointed at that install;
- the Dockerfile's own instructions (user, volumes, health check, command) are read: no container runtime
  runs here (said in docs/deployment.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.plugin("pylantir-csv")

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``deploy/install.sh PREFIX csv`` run as the image build runs it; the prefix."""
    prefix = tmp_path_factory.mktemp("install") / "pylantir"
    done = subprocess.run(["sh", str(DEPLOY / "install.sh"), str(prefix), "csv"], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pylantir, version" in done.stdout
    assert "pylantir-csv" in done.stdout and " ok " in done.stdout
    yield prefix


def test_the_install_script_refuses_an_unknown_plugin(tmp_path: Path) -> None:
    done = subprocess.run(["sh", str(DEPLOY / "install.sh"), str(tmp_path / "p"), "hl7"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "no plugin 'hl7'" in done.stderr and "pylantir-hl7" in done.stderr
    assert not (tmp_path / "p").exists(), "nothing is installed"


def test_the_installed_pylantir_accepts_the_compose_configuration(installed: Path) -> None:
    done = subprocess.run([str(installed / "bin" / "pylantir"), "config", "check",
                           str(DEPLOY / "compose" / "pylantir.json")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ris" in done.stdout


def test_the_systemd_unit_verifies(installed: Path, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed: the unit file is not verified here")
    unit = (DEPLOY / "pylantir.service").read_text()
    assert "ExecStart=/opt/pylantir/bin/pylantir run --config /etc/pylantir/pylantir.json" in unit
    assert "User=pylantir" in unit and "Restart=on-failure" in unit
    here = tmp_path / "pylantir.service"
    here.write_text(unit.replace("/opt/pylantir", str(installed)))
    done = subprocess.run([analyze, "verify", str(here)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "SYSTEMD_LOG_LEVEL": "notice"})
    assert done.returncode == 0 and "pylantir.service" not in done.stderr, done.stderr


def test_the_image_runs_unprivileged_with_volumes_and_a_health_check() -> None:
    recipe = (DEPLOY / "Dockerfile").read_text()
    instructions = [line.split(None, 1) for line in recipe.replace("\\\n", " ").splitlines()
                    if line.strip() and not line.lstrip().startswith("#")]
    by_name: dict[str, list[str]] = {}
    for name, argument in instructions:
        by_name.setdefault(name, []).append(argument)
    assert any("deploy/install.sh /opt/pylantir" in run for run in by_name["RUN"])
    assert by_name["USER"] == ["pylantir"]
    assert by_name["VOLUME"] == ['["/etc/pylantir", "/var/lib/pylantir"]']
    (check,) = by_name["HEALTHCHECK"]
    assert "http://127.0.0.1:8000/health" in check
    assert by_name["ENTRYPOINT"] == ['["/opt/pylantir/bin/pylantir"]'] and by_name["CMD"] == ['["run"]']


def test_the_compose_instances_serve_http_where_the_health_check_and_the_ports_reach_it() -> None:
    """The image's health check asks 127.0.0.1:8000 and compose publishes container port 8000: the shared
    configuration must put the HTTP service on all of the container's addresses, on that port."""
    import json
    import re

    from pylantir.config import PylantirConfig

    config = PylantirConfig.model_validate(json.loads((DEPLOY / "compose" / "pylantir.json").read_text()))
    (check,) = re.findall(r"http://127\.0\.0\.1:(\d+)/health", (DEPLOY / "Dockerfile").read_text())
    published = re.findall(r'"\d+:(\d+)"', (DEPLOY / "compose" / "compose.yaml").read_text())
    assert (config.http.enabled, config.http.host, config.http.port) == (True, "0.0.0.0", int(check))
    assert str(config.http.port) in published and str(config.server.port) in published
