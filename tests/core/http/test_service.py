"""``pylantir run`` serves HTTP beside DICOM in one process: startup lines, /health, /ready, /docs, one SIGTERM
for all, --no-http, and a clear error for a port in use."""

from __future__ import annotations

import socket
import ssl
import subprocess

import httpx

from pylantir.dicom.client import Peer, echo

from ..dicom.conftest import PYLANTIR, serving
from .conftest import PASSWORD, Site, running


def test_run_serves_http_and_dicom_and_one_sigterm_stops_both(site: Site) -> None:
    with running(site, "--no-sync") as server:
        echo(Peer("127.0.0.1", site.dicom_port))
        health = httpx.get(f"{site.url}/health")
        assert health.status_code == 200 and health.json()["status"] == "healthy"
        ready = httpx.get(f"{site.url}/ready")
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert (body["status"], body["reasons"]) == ("ready", [])
        assert body["role"] == {"deployment": "single-instance", "instance": body["role"]["instance"], "syncs": False,
                                "leads": [], "follows": []}  # --no-sync: this instance syncs nothing
    assert server.returncode == 0, server.stderr
    log = server.stderr
    assert f"dashboard and API at {site.url}/" in log and f"{site.url}/docs" in log
    assert "no admin user yet: create the first one with 'pylantir users add NAME --role admin" in log
    assert "Uvicorn" not in log and "Started server process" not in log  # its own start lines are not repeated
    for port in (site.dicom_port, site.http_port):
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open after SIGTERM"


def test_the_first_admin_hint_goes_once_an_admin_exists(site: Site) -> None:
    site.add_user("ada", "admin")
    with running(site, "--no-sync") as server:
        pass
    assert "no admin user yet" not in server.stderr


def test_no_http_serves_dicom_only(site: Site) -> None:
    with serving(["run", "--config", str(site.config), "--no-sync", "--no-http"],
                 Peer("127.0.0.1", site.dicom_port)) as server:
        try:
            httpx.get(f"{site.url}/health", timeout=2)
            raise AssertionError("HTTP answered despite --no-http")
        except httpx.ConnectError:
            pass
    assert server.returncode == 0
    assert "HTTP service disabled" in server.stderr


def test_http_port_in_use_is_a_clear_error_and_dicom_stops_too(site: Site) -> None:


    with socket.socket() as taken:
        taken.bind(("127.0.0.1", site.http_port))
        taken.listen(1)
        result = subprocess.run([*PYLANTIR, "run", "--config", str(site.config), "--no-sync"], capture_output=True,
                                text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert f"http.host/http.port: cannot listen on 127.0.0.1:{site.http_port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_docs_and_openapi_need_a_login_and_are_served_locally(site: Site) -> None:
    with running(site, "--no-sync"):
        assert httpx.get(f"{site.url}/docs").status_code == 401
        assert httpx.get(f"{site.url}/openapi.json").status_code == 401
        token = site.token("docs-reader", "read")
        with site.client(token) as client:
            page = client.get("/docs")
            assert page.status_code == 200
            assert "/docs/assets/swagger-ui-bundle.js" in page.text and "cdn" not in page.text.lower()
            assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
            spec = client.get("/openapi.json").json()
            assert {"/health", "/ready", "/api/v1/auth/login"} <= set(spec["paths"])


def test_https_with_the_configured_certificate(site: Site, tls_files: dict[str, str]) -> None:
    site.settings["http"] = {"tls": {"certificate": tls_files["server_cert"], "private_key": tls_files["server_key"]}}
    site.scheme = "https"
    trusted = ssl.create_default_context(cafile=tls_files["ca_cert"])
    with running(site, "--no-sync", verify=trusted):
        assert httpx.get(f"{site.url}/health", verify=trusted).status_code == 200
        site.add_user("ada", "read")
        login = httpx.post(f"{site.url}/api/v1/auth/login", json={"username": "ada", "password": PASSWORD},
                           verify=trusted)
        cookie = login.headers["set-cookie"].lower()
        assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
