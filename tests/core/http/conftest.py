"""Fixtures for the HTTP service's tests: a site's configuration with free ports, its users and tokens made
with the real CLI, and a real ``pylantir run`` process answering HTTP on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from pylantir.dicom.client import Peer

from ..dicom.conftest import PYLANTIR, free_port, serving, tls_files  # noqa: F401  (tls_files: a fixture)

PASSWORD = "correct horse battery staple"


@dataclass
class Site:
    """A site's configuration file (SQLite or PostgreSQL), with free DICOM and HTTP ports."""

    directory: Path
    database_url: str
    dicom_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    settings: dict[str, Any] = field(default_factory=dict)
    scheme: str = "http"

    @property
    def config(self) -> Path:
        """The configuration file, (re)written from the settings."""
        path = self.directory / "pylantir.json"
        server = {**self.settings.get("server", {}), "port": self.dicom_port}
        http = {**self.settings.get("http", {}), "port": self.http_port}
        others = {key: value for key, value in self.settings.items() if key not in ("server", "http")}
        path.write_text(json.dumps({"database_url": self.database_url, "server": server, "http": http, **others}))
        return path

    @property
    def url(self) -> str:
        """The HTTP service's base URL."""
        return f"{self.scheme}://127.0.0.1:{self.http_port}"

    def cli(self, *args: str, password: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``pylantir ARGS --config <the site's>`` (``password`` in $PYLANTIR_PASSWORD)."""
        env = {key: value for key, value in os.environ.items() if key != "PYLANTIR_PASSWORD"}
        if password is not None:
            env["PYLANTIR_PASSWORD"] = password
        result = subprocess.run([*PYLANTIR, *args, "--config", str(self.config)], capture_output=True, text=True,
                                env=env, stdin=subprocess.DEVNULL, timeout=60, check=False)
        if check and result.returncode != 0:
            pytest.fail(f"pylantir {' '.join(args)} failed: {result.stderr}")
        return result

    def add_user(self, name: str, role: str, password: str = PASSWORD) -> None:
        """``pylantir users add NAME --role ROLE`` with the password in the environment."""
        self.cli("users", "add", name, "--role", role, password=password)

    def token(self, name: str, role: str) -> str:
        """A new API token from ``pylantir tokens create``."""
        return self.cli("tokens", "create", name, "--role", role).stdout.strip()

    def client(self, token: str | None = None, **options: Any) -> httpx.Client:
        """An HTTP client of the service (with ``token`` as its bearer token)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10, **options)


@pytest.fixture
def site(tmp_path: Path) -> Site:
    """A site on SQLite in the test's directory."""
    return Site(tmp_path, f"sqlite:///{tmp_path / 'site.sqlite'}")


def wait_for_http(url: str, process: subprocess.Popen[str], deadline: float, **options: Any) -> None:
    """Wait until ``url``/health answers (the service starts just after DICOM)."""
    while True:
        if process.poll() is not None:
            pytest.fail(f"pylantir run exited early: {process.communicate()[1]}")
        try:
            httpx.get(f"{url}/health", timeout=2, **options)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                pytest.fail(f"pylantir run did not answer HTTP on {url}")
            time.sleep(0.05)


@contextmanager
def running(
    site: Site, *run_args: str, global_args: tuple[str, ...] = (), verify: Any = True
) -> Iterator[Any]:
    """``pylantir GLOBAL_ARGS run --config <site> RUN_ARGS`` as a process answering DICOM and HTTP; SIGTERM after."""
    with serving([*global_args, "run", "--config", str(site.config), *run_args],
                 Peer("127.0.0.1", site.dicom_port, timeout=2)) as server:
        wait_for_http(site.url, server.process, time.monotonic() + 60, verify=verify)
        yield server
