"""Serving the app with uvicorn in a background thread of ``pylantir run`` (beside the DICOM server).

:func:`start_http` binds the socket itself, so that a port in use or a bad TLS file is a clear error before
anything is served, and port 0 picks a free port (tests); :meth:`RunningHttp.shutdown` stops it (open
requests get a few seconds to finish). uvicorn's access log is off: query strings may hold patient data.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from pylantir.config import HttpSettings

#: Seconds to wait for uvicorn to start serving, and for open requests to finish at shutdown.
STARTUP_TIMEOUT = 10.0
SHUTDOWN_GRACE = 5


class HttpStartError(Exception):
    """The HTTP service cannot start (port in use, bad TLS file); the message names the setting."""


@dataclass
class RunningHttp:
    """The HTTP service serving in a background thread."""

    server: uvicorn.Server
    thread: threading.Thread
    host: str
    port: int
    scheme: str

    @property
    def url(self) -> str:
        """Where the service answers, e.g. ``http://127.0.0.1:8000``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def shutdown(self) -> None:
        """Stop accepting, let open requests finish (at most :data:`SHUTDOWN_GRACE` s), and join the thread."""
        self.server.should_exit = True
        self.thread.join(SHUTDOWN_GRACE + 5)


def _bind(settings: HttpSettings) -> socket.socket:
    try:
        family = socket.getaddrinfo(settings.host, settings.port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((settings.host, settings.port))
        except OSError:
            sock.close()
            raise
    except OSError as exc:
        raise HttpStartError(f"http.host/http.port: cannot listen on {settings.host}:{settings.port}: "
                             f"{exc.strerror or exc} (choose another http.port, or --no-http)") from exc
    sock.set_inheritable(True)
    return sock


def start_http(app: FastAPI, settings: HttpSettings) -> RunningHttp:
    """Serve ``app`` on ``settings.host``/``settings.port`` (HTTPS with ``settings.tls``) in a thread."""
    tls = settings.tls
    config = uvicorn.Config(
        app, log_config=None, access_log=False, server_header=False, lifespan="off",
        timeout_graceful_shutdown=SHUTDOWN_GRACE,
        ssl_certfile=tls.certificate if tls else None, ssl_keyfile=tls.private_key if tls else None,
    )
    try:
        config.load()
    except (OSError, ssl.SSLError) as exc:
        assert tls is not None  # only loading the TLS files can fail here
        raise HttpStartError(f"http.tls.certificate / http.tls.private_key: cannot load {tls.certificate} with "
                             f"{tls.private_key}: {exc}") from exc
    sock = _bind(settings)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="pylantir-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            with contextlib.suppress(OSError):
                sock.close()
            raise HttpStartError(f"http: the service on {settings.host}:{settings.port} did not start")
        time.sleep(0.01)
    host, port = sock.getsockname()[:2]
    return RunningHttp(server, thread, settings.host, int(port), "https" if tls else "http")
