"""``pylantir run``: the DICOM server and the sync engine in one process.

The server, the store and the sync engine are imported when the command runs (``pylantir --help`` stays fast).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pylantir.cli.context import (
    CliContext,
    config_option,
    load_config_or_exit,
    pass_cli,
)
from pylantir.cli.database import open_database
from pylantir.cli.db import import_previous
from pylantir.cli.logs import log_at_least
from pylantir.config import PylantirConfig

if TYPE_CHECKING:
    from pylantir.dicom import RunningServer
    from pylantir.http import RunningHttp
    from pylantir.store import Database
    from pylantir.store.run_lock import RunLock
    from pylantir.sync.supervisor import SyncSupervisor
    from pylantir.writeback.service import WriteBackService

log = logging.getLogger("pylantir.run")


def with_overrides(config: PylantirConfig, section: str, **overrides: Any) -> PylantirConfig:
    """The config with the command-line overrides of one section (``server``, ``http``) applied and validated
    like the file."""
    from pydantic import ValidationError

    updates = {key: value for key, value in overrides.items() if value is not None}
    if not updates:
        return config
    current = getattr(config, section)
    try:
        replaced = type(current).model_validate({**current.model_dump(), **updates})
    except ValidationError as exc:
        prefix = "--http-" if section == "http" else "--"
        raise click.UsageError("; ".join(f"{prefix}{str(e['loc'][0]).replace('_', '-')}: {e['msg']}"
                                         for e in exc.errors())) from exc
    return config.model_copy(update={section: replaced})


def _start_sources(config: PylantirConfig, cli_ctx: CliContext, database: Database
                   ) -> tuple[SyncSupervisor, WriteBackService | None]:
    """Check the sources, then start the sync worker process and, when a source writes back, the write-back
    worker (a thread: it is woken by this process's MPPS writes)."""
    from pylantir.sync.checks import check_sources
    from pylantir.sync.supervisor import SyncSupervisor, SyncWorkerError
    from pylantir.writeback.service import WriteBackService

    plugins_dir = cli_ctx.plugins_dir or (Path(config.plugins_dir) if config.plugins_dir else None)
    registry = cli_ctx.registry(plugins_dir)
    cli_ctx.enforce_strict_plugins()
    problems = check_sources(config, registry)
    if problems:
        raise click.ClickException("the data sources cannot be used:\n" + "\n".join(f"  - {p}" for p in problems))
    service = SyncSupervisor(config, registry, plugins_dir)
    try:
        service.start()
    except SyncWorkerError as exc:
        raise click.ClickException(str(exc)) from exc
    write_back = WriteBackService(config, registry, database) if config.write_back_sources() else None
    if write_back is not None:
        write_back.start()
    return service, write_back


def _one_instance_per_sqlite_file(config: PylantirConfig) -> RunLock | None:
    """The run lock of a SQLite database (``None`` for PostgreSQL); a second ``run`` on the file is refused."""
    from pylantir.store.database import sqlite_file
    from pylantir.store.run_lock import RunLock, RunLockError
    from pylantir.sync.lineage import this_process

    database_file = sqlite_file(config.resolved_database_url())
    if database_file is None:
        return None
    lock = RunLock(database_file)
    try:
        lock.acquire(this_process().pid, this_process().host)
    except RunLockError as exc:
        raise click.ClickException(str(exc)) from exc
    return lock


@contextmanager
def stop_on_signal() -> Iterator[threading.Event]:
    """An event that SIGINT or SIGTERM sets from the moment the block is entered: a signal that arrives while the
    service is still starting stops it cleanly once started, instead of killing the process mid start-up."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def wait_for_signal(stop: threading.Event) -> None:
    """Block until ``stop`` (of :func:`stop_on_signal`) is set."""
    while not stop.wait(1.0):
        pass


@click.command("run")
@config_option
@click.option("--ae-title", help="AE title to answer as (overrides server.ae_title).")
@click.option("--host", help="Address to listen on (overrides server.host).")
@click.option("--port", type=int, help="TCP port to listen on (overrides server.port).")
@click.option("--no-sync", is_flag=True, help="Serve the worklist only; do not run the data-source sync.")
@click.option("--http-port", type=int, help="TCP port of the HTTP service (overrides http.port).")
@click.option("--no-http", is_flag=True, help="Serve no HTTP (API, health, dashboard); overrides http.enabled.")
@pass_cli
def run(
    cli_ctx: CliContext, config_path: Path, ae_title: str | None, host: str | None, port: int | None, no_sync: bool,
    http_port: int | None, no_http: bool,
) -> None:
    """Serve the worklist over DICOM (MWL C-FIND, MPPS, C-ECHO) and HTTP (API, health, dashboard), and keep
    it in sync with the data sources.

    The sources are checked and the sync started before the ports open; it runs in a worker process of its
    own (so that syncing and answering modalities do not compete for one interpreter), replaced if it dies,
    and stopped with this one. Performed-step changes of the
    entries of sources with write_back are written back to them by a worker of their own (with --no-sync they
    are recorded and wait for the next run that syncs). Housekeeping (what left the worklist, old sync runs)
    runs every housekeeping.interval_minutes. SIGINT or SIGTERM stops them all.

    Several instances may share one PostgreSQL database: each source is synced by one of them at a time
    (its leader, elected through the database) and every instance answers. A second instance on one SQLite
    file is refused.
    """
    log_at_least(logging.INFO)
    config = with_overrides(load_config_or_exit(config_path), "server", ae_title=ae_title, host=host, port=port)
    config = with_overrides(config, "http", port=http_port, enabled=False if no_http else None)
    run_lock = _one_instance_per_sqlite_file(config)
    try:
        with stop_on_signal() as stop:
            _serve(cli_ctx, config, config_path, no_sync, stop)
    finally:
        if run_lock is not None:
            run_lock.release()


def _serve(cli_ctx: CliContext, config: PylantirConfig, config_path: Path, no_sync: bool,
           stop: threading.Event) -> None:
    from pylantir.dicom import ServerStartError, start_server
    from pylantir.gcpolicy import freeze_start_up
    from pylantir.housekeeping import HousekeepingService

    database = open_database(config, "migrate")
    try:
        import_previous(database, config, cli_ctx.registry(Path(config.plugins_dir) if config.plugins_dir else None))
    except BaseException:
        database.close()
        raise
    sync, write_back = (None, None) if no_sync else _start_sources(config, cli_ctx, database)
    housekeeping = HousekeepingService(database, config) if config.housekeeping.enabled else None
    if housekeeping is not None:
        housekeeping.start()
    try:
        try:
            server = start_server(config, database, on_write_back=write_back.wake if write_back else None)
        except ServerStartError as exc:
            raise click.ClickException(str(exc)) from exc
        try:
            http = start_http_service(config, database, server, sync) if config.http.enabled else None
        except BaseException:
            server.shutdown()
            raise
        sources = "sync disabled" if no_sync else ", ".join(s.name for s in config.enabled_sources()) or "none"
        log.info(
            "pylantir serving AE title %s on %s port %d, database %s, sources: %s",
            server.ae_title, server.host, server.port, database.safe_url(), sources,
        )
        announce_http(http, database, config_path)
        freeze_start_up()
        try:
            wait_for_signal(stop)
        finally:
            log.info("shutting down")
            if http is not None:
                http.shutdown()
            server.shutdown()
    finally:
        if housekeeping is not None:
            housekeeping.stop()
        if write_back is not None:
            write_back.stop()
        if sync is not None:
            sync.stop()
        database.close()


def start_http_service(config: PylantirConfig, database: Database, server: RunningServer | None,
                       sync: SyncSupervisor | None) -> RunningHttp:
    """The HTTP service of ``config.http`` over ``database`` (and this process's DICOM server and sync, if any)."""
    from pylantir.accounts import AccountError
    from pylantir.http import HttpStartError, create_app, start_http

    try:
        return start_http(create_app(config, database, dicom=server, sync=sync), config.http)
    except (HttpStartError, AccountError) as exc:
        raise click.ClickException(str(exc)) from exc


def announce_http(http: RunningHttp | None, database: Database, config_path: Path) -> None:
    """Say where the HTTP service is, and how to make the first admin while there is none."""
    from sqlalchemy import select

    from pylantir.accounts import Role
    from pylantir.store import User

    if http is None:
        log.info("HTTP service disabled (http.enabled false, or --no-http)")
        return
    log.info("dashboard and API at %s/ (API documentation: %s/docs, health: %s/health)", http.url, http.url, http.url)
    with database.session() as session:
        has_admin = session.scalar(select(User.id).where(User.role == Role.ADMIN.value).limit(1)) is not None
    if not has_admin:
        log.info("no admin user yet: create the first one with 'pylantir users add NAME --role admin --config %s' "
                 "(it asks for the password)", config_path)
