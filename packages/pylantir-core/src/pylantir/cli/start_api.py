"""The previous Pylantir's ``start-api``: its HTTP API as a process of its own, with its options.

It serves this Pylantir's HTTP service alone (the previous API's endpoints among it, see
:mod:`pylantir.http.previous_api`) over the configured database: no DICOM, no sync, no housekeeping, which
``pylantir start`` (or ``pylantir run``) does beside it. Unlike the previous one it creates no
``admin``/``admin123`` user: it says how to add the first admin.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import click

from pylantir.cli.context import load_config_or_exit
from pylantir.cli.database import open_database
from pylantir.cli.logs import log_at_least
from pylantir.cli.run import announce_http, start_http_service, stop_on_signal, wait_for_signal, with_overrides
from pylantir.config import PylantirConfig

#: The previous ``start-api`` listened on every interface, port 8000, unless told otherwise.
PREVIOUS_API_HOST = "0.0.0.0"
PREVIOUS_API_PORT = 8000

log = logging.getLogger("pylantir.run")


@click.command("start-api")
@click.option("--api-host", default=PREVIOUS_API_HOST, show_default=True, help="Address of the HTTP service.")
@click.option("--api-port", type=int, default=PREVIOUS_API_PORT, show_default=True, help="Port of the HTTP service.")
@click.option("--pylantir_config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              envvar="PYLANTIR_CONFIG", required=True,
              help="Configuration file (the previous format or the current one). Default: $PYLANTIR_CONFIG.")
def start_api(api_host: str, api_port: int, config_path: Path) -> None:
    """The previous Pylantir's `start-api`: serves the HTTP service (API, health, dashboard) alone.

    No DICOM and no sync run in this process (`pylantir start` or `pylantir run` do; `pylantir run` also
    serves HTTP itself). Users are added with `pylantir users add`: there is no default user.
    """
    click.echo("pylantir start-api: the previous Pylantir's command; the HTTP service now runs inside "
               f"'pylantir run --config {config_path}' (http.host/http.port in the configuration)", err=True)
    log_at_least(logging.INFO)
    config = with_overrides(load_config_or_exit(config_path), "http", host=api_host, port=api_port, enabled=True)
    with stop_on_signal() as stop:
        _serve_http(config, config_path, stop)


def _serve_http(config: PylantirConfig, config_path: Path, stop: threading.Event) -> None:
    database = open_database(config, "migrate")
    try:
        http = start_http_service(config, database, None, None)
        log.info("pylantir HTTP service only (no DICOM, no sync), database %s", database.safe_url())
        announce_http(http, database, config_path)
        try:
            wait_for_signal(stop)
        finally:
            log.info("shutting down")
            http.shutdown()
    finally:
        database.close()
