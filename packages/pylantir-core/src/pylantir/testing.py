"""Helpers for testing source plugins, opt-in for a plugin's own test suite.

Import what a test needs (``from pylantir.testing import registered, check_source_contract``);
nothing here is loaded into a pytest run unless a test imports it, and nothing is global: every
helper works on its own :class:`~pylantir.plugins.PluginRegistry`.

- :func:`fresh_registry`, :func:`registered`, :func:`load_distribution`: a registry with exactly the
  plugin under test, from its module or through its real installed entry point;
- :func:`check_source_contract`: the checks every source plugin should pass;
- :func:`no_io`: fail when a block reads files, opens sockets or starts processes;
- :func:`sync_to_sqlite` and :func:`query_worklist`: a full sync into a SQLite file, and a real C-FIND
  against it;
- :func:`check_write_back_contract` and :func:`step_change`: the checks every ``write_back`` implementation
  should pass, and changes to hand it in a test;
- :func:`running_pylantir` and :func:`free_port`: the installed ``pylantir`` command (``run``) as a real
  process, for end-to-end tests (MPPS from a modality to the plugin's system).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from types import FrameType, ModuleType
from typing import TYPE_CHECKING, Any

from pylantir.contract import FetchState, SourceError, StepChange, WriteBackResult
from pylantir.plugins import PluginBugError, PluginInfo, PluginRegistry, PluginStatus

if TYPE_CHECKING:
    from pydicom import Dataset

    from pylantir.config import DataSourceSettings
    from pylantir.dicom.client import Peer

__all__ = [
    "PylantirProcess",
    "check_source_contract",
    "check_write_back_contract",
    "free_port",
    "fresh_registry",
    "load_distribution",
    "no_io",
    "query_worklist",
    "registered",
    "running_pylantir",
    "step_change",
    "sync_to_sqlite",
]

CONTRACT_SOURCE_NAME = "contract-check"

#: Audit events (``sys.addaudithook``) that count as I/O; prefixes end with a dot. Reading file-system
#: metadata (``os.stat``, listing a directory, matching a glob) is not I/O here: ``validate_config`` may
#: warn that a configured file does not exist yet.
IO_EVENTS = (
    "open", "shutil.", "socket.", "sqlite3.connect", "subprocess.", "urllib.", "http.client.", "ftplib.",
    "smtplib.", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.remove", "os.rename", "os.mkdir",
    "os.rmdir", "os.truncate", "os.chmod",
)


def fresh_registry() -> PluginRegistry:
    """A registry with no plugin loaded: no entry points, no plugin directory, no environment filter."""
    return PluginRegistry()


def _require_ok(info: PluginInfo) -> PluginInfo:
    if info.status is not PluginStatus.OK:
        raise AssertionError(f"{info.label} is {info.status.value} ({info.phase}): {info.detail}")
    return info


@contextmanager
def registered(
    module: ModuleType, registry: PluginRegistry | None = None, *, name: str | None = None
) -> Iterator[tuple[PluginRegistry, PluginInfo]]:
    """Register one plugin module for the duration of a ``with`` block.

    Yields ``(registry, info)``; the registry is a :func:`fresh_registry` unless one is given. Fails
    with the plugin's status and detail when the module does not register cleanly (forgotten
    ``@hookimpl``, hook name typo, bad declaration). The module is unregistered when the block ends.
    """
    registry = registry if registry is not None else fresh_registry()
    info = registry.register_module(module, name)
    try:
        yield registry, _require_ok(info)
    finally:
        registry.unregister(info)


def load_distribution(entry_point_name: str) -> tuple[PluginRegistry, PluginInfo]:
    """Load exactly one installed plugin through its real ``pylantir`` entry point.

    Proves the packaging: the distribution is installed, its entry point resolves, and the module
    registers. Fails with the plugin's own status and detail when it does not load cleanly.
    """
    registry = fresh_registry()
    registry.load_entry_points(only=entry_point_name)
    found = [info for info in registry.plugins if info.name == entry_point_name]
    if not found:
        raise AssertionError(f"no installed entry point named {entry_point_name!r} in group 'pylantir'")
    return registry, _require_ok(found[0])


# -- I/O audit -----------------------------------------------------------------------------------


class _IoAudit:
    """Records the I/O audit events of each thread that is inside a :func:`no_io` block.

    Python cannot remove an audit hook once added (PEP 578), so the hook is added the first time a
    ``no_io`` block is entered and stays for the life of the process. Outside every ``no_io`` block it is a
    no-op: its first test (how many blocks are open, in any thread) returns before anything else runs.
    A process that never enters ``no_io`` never has the hook.
    """

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._installed = False
        self._open_blocks = 0

    @contextmanager
    def recording(self) -> Iterator[list[str]]:
        with self._lock:
            if not self._installed:
                sys.addaudithook(self._hook)
                self._installed = True
            self._open_blocks += 1
        previous = getattr(self._local, "events", None)
        events: list[str] = []
        self._local.events = events
        try:
            yield events
        finally:
            self._local.events = previous
            with self._lock:
                self._open_blocks -= 1

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self._open_blocks:
            return
        events = getattr(self._local, "events", None)
        if events is None or not event.startswith(IO_EVENTS) or _inside_import_system():
            return
        if event == "open":
            events.append(f"open {args[0]!r}")
        else:
            events.append(event)


def _inside_import_system() -> bool:
    """Importing a module reads files too; that is not the plugin doing I/O."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


_AUDIT = _IoAudit()


@contextmanager
def no_io(what: str) -> Iterator[None]:
    """Fail with an :class:`AssertionError` naming the events when the block does I/O in this thread.

    I/O is what Python's audit events report: opening a file, any socket operation, connecting to
    SQLite, starting a process, an HTTP request, changing the file system. Imports, ``os.stat``, directory
    listings and globs are not counted (a config check may warn that a file does not exist yet). Only the
    thread that entered the block is watched; blocks may nest and run in several threads at once.

    The first ``no_io`` block adds a process-wide audit hook (Python offers no way to remove one); outside
    every block the hook returns at once, so the rest of a test run is neither slowed nor watched.
    :param what: the call being checked, for the message (``"validate_config({...})"``).
    """
    with _AUDIT.recording() as events:
        try:
            yield
        except Exception as exc:
            if events:  # the I/O is the likelier cause of the failure: say so first
                raise AssertionError(_io_message(what, events)) from exc
            raise
    if events:
        raise AssertionError(_io_message(what, events))


def _io_message(what: str, events: list[str]) -> str:
    return f"{what} did I/O, which it must not: {'; '.join(dict.fromkeys(events))}"


# -- the contract --------------------------------------------------------------------------------


def check_source_contract(
    registry: PluginRegistry,
    source_type: str,
    *,
    good_config: Mapping[str, Any],
    bad_configs: Mapping[str, Mapping[str, Any]] | None = None,
    field_mapping: Mapping[str, Any] | None = None,
    failing_config: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Run the checks every source plugin should pass; raise :class:`AssertionError` on the first failure.

    :param registry: a registry holding the plugin (from :func:`registered` or :func:`load_distribution`).
    :param source_type: the type to check; its declaration must be valid and owned by an ``ok`` plugin.
    :param good_config: a ``config`` that ``validate_config`` must accept (warnings allowed), without I/O.
    :param bad_configs: expected problem path -> a ``config`` that must give an error at that path,
        without I/O (``{"file_path": {"file_path": 3}}``).
    :param field_mapping: when given, ``fetch_entries`` runs with ``good_config`` and every item it
        yields must map, through the core's field mapping and quality checks, to a valid worklist
        entry (at least one).
    :param failing_config: when given, fetching with it must raise :class:`pylantir.SourceError`
        (e.g. a missing file or an unreachable server), not any other exception.
    :return: the mapped worklist entries (empty when no ``field_mapping`` is given).
    """
    owner = _require_ok(registry.owner(source_type))
    declared = next(t for t in owner.source_types if t.name == source_type)
    if not declared.summary.strip():
        raise AssertionError(f"{owner.label}: source type {source_type!r} has an empty summary")
    _check_validation(registry, source_type, good_config, bad_configs or {})
    entries: list[dict[str, Any]] = []
    if field_mapping is not None:
        entries = _check_fetch(registry, source_type, good_config, field_mapping)
    if failing_config is not None:
        _check_failure(registry, source_type, failing_config)
    return entries


def _check_validation(
    registry: PluginRegistry,
    source_type: str,
    good_config: Mapping[str, Any],
    bad_configs: Mapping[str, Mapping[str, Any]],
) -> None:
    with no_io(f"validate_config({dict(good_config)!r})"):
        problems = registry.validate_config(source_type, good_config)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise AssertionError(f"validate_config rejects the good config {dict(good_config)!r}: {errors}")
    for path, config in bad_configs.items():
        with no_io(f"validate_config({dict(config)!r})"):
            problems = registry.validate_config(source_type, config)
        if not any(p.path == path and p.severity == "error" for p in problems):
            raise AssertionError(
                f"validate_config({dict(config)!r}) gives no error at path {path!r}; it gives {problems}"
            )


def _check_fetch(
    registry: PluginRegistry, source_type: str, config: Mapping[str, Any], field_mapping: Mapping[str, Any]
) -> list[dict[str, Any]]:
    from pylantir.config import DataSourceSettings
    from pylantir.preview import preview_source

    source = DataSourceSettings(
        name=CONTRACT_SOURCE_NAME, type=source_type, config=dict(config), field_mapping=dict(field_mapping)
    )
    preview = preview_source(registry, source)
    if preview.rejected:
        reasons = "\n".join(f"  {r.location}: {r.reason}" for r in preview.rejected)
        raise AssertionError(f"fetch_entries yielded items that are not valid worklist entries:\n{reasons}")
    if not preview.entries and not preview.unchanged:
        raise AssertionError("fetch_entries yielded nothing for the good config; the check needs sample entries")
    return preview.entries


def _check_failure(registry: PluginRegistry, source_type: str, config: Mapping[str, Any]) -> None:
    try:
        for _ in registry.fetch_entries(source_type, CONTRACT_SOURCE_NAME, config, frozenset(), FetchState()):
            pass
    except SourceError:
        return
    except Exception as exc:
        cause = exc.__cause__ if isinstance(exc, PluginBugError) and exc.__cause__ is not None else exc
        raise AssertionError(
            f"fetching with {dict(config)!r} raised {type(cause).__name__}: {cause}; operational failures must "
            "raise pylantir.SourceError (or TransientSourceError) with a message naming what failed"
        ) from exc
    raise AssertionError(f"fetching with {dict(config)!r} succeeded; it was expected to raise pylantir.SourceError")


# -- sync and C-FIND -----------------------------------------------------------------------------


def _sqlite_url(path: str | PathLike[str]) -> str:
    return f"sqlite:///{path}"


def sync_to_sqlite(
    registry: PluginRegistry,
    source: DataSourceSettings | Mapping[str, Any],
    database_path: str | PathLike[str],
) -> list[dict[str, Any]]:
    """Run one full sync of ``source`` into the SQLite file ``database_path``; return its worklist rows.

    :param source: a configured data source, as the config file's ``data_sources`` item (a mapping)
        or a :class:`pylantir.config.DataSourceSettings`.
    :return: every worklist row of that source, as column -> value, in insertion order.
    Fails with the sync run's error when the sync does not succeed.
    """
    from sqlalchemy import select

    from pylantir.config import DataSourceSettings
    from pylantir.store import Database, WorklistItem
    from pylantir.sync.runner import sync_source

    settings = source if isinstance(source, DataSourceSettings) else DataSourceSettings.model_validate(source)
    database = Database.open(_sqlite_url(database_path))
    try:
        result = sync_source(database, registry, settings)
        if result.outcome not in ("success", "unchanged"):
            raise AssertionError(f"sync of source {settings.name!r} ended {result.outcome}: {result.error}")
        with database.session() as session:
            items = session.scalars(
                select(WorklistItem).where(WorklistItem.source_name == settings.name).order_by(WorklistItem.id)
            )
            columns = [column.key for column in WorklistItem.__table__.columns]
            return [{key: getattr(item, key) for key in columns} for item in items]
    finally:
        database.close()


def query_worklist(
    database_path: str | PathLike[str], query: Mapping[str, Any] | None = None
) -> list[Dataset]:
    """Start the DICOM server on the SQLite file ``database_path`` and C-FIND its worklist over loopback.

    :param query: matching keys by DICOM keyword (``{"Modality": "MR", "PatientID": "P1"}``) on top
        of the usual return keys; Scheduled Procedure Step keys go into the step's sequence item.
    :return: the identifiers of the pending responses (one per matching worklist entry).
    """
    from pylantir.config import PylantirConfig
    from pylantir.dicom.client import SPS_KEYS, Peer, find, worklist_identifier
    from pylantir.dicom.server import start_server
    from pylantir.store import Database

    identifier = worklist_identifier()
    for keyword, value in (query or {}).items():
        in_step = keyword in SPS_KEYS or keyword.startswith("ScheduledProcedureStep")
        setattr(identifier.ScheduledProcedureStepSequence[0] if in_step else identifier, keyword, value)
    config = PylantirConfig(database_url=_sqlite_url(database_path))
    database = Database.open(config.database_url)
    try:
        server = start_server(config, database, host="127.0.0.1", port=0)
        try:
            return find(Peer("127.0.0.1", server.port, called_ae=config.server.ae_title), identifier)
        finally:
            server.shutdown()
    finally:
        database.close()


def step_change(key: Mapping[str, Any] | None, status: str = "COMPLETED", change_id: int = 1,
                source_name: str = CONTRACT_SOURCE_NAME, **attributes: str) -> StepChange:
    """A performed-step change as the core hands it to ``write_back`` (started 10:15, ended 10:45 today).

    :param key: the entry's ``Record.key``; ``status``: ``STARTED``, ``COMPLETED`` or ``DISCONTINUED``;
        ``attributes``: MPPS attributes by keyword (``PerformedStationAETitle="MR1"`` is the default).
    """
    performed = {"STARTED": "IN PROGRESS"}.get(status, status)
    today = datetime.now(UTC).date()
    return StepChange(
        change_id=change_id, source_name=source_name, key=key, location=None, identity=f"contract:{change_id}",
        status=status, performed_status=performed, started_at=datetime(today.year, today.month, today.day, 10, 15),
        ended_at=None if status == "STARTED" else datetime(today.year, today.month, today.day, 10, 45),
        recorded_at=datetime.now(UTC), attributes={"PerformedStationAETitle": "MR1", **attributes},
    )


def check_write_back_contract(
    registry: PluginRegistry,
    source_type: str,
    config: Mapping[str, Any],
    settings: Mapping[str, Any],
    changes: list[StepChange],
) -> list[WriteBackResult]:
    """The checks every ``write_back`` implementation should pass; returns the results of the first call.

    ``validate_write_back`` accepts ``settings`` without I/O; ``write_back`` returns one result per change;
    written a second time, the same changes are ``done`` again (an idempotent write of the state, as a
    restart after the write and before the core stored its result makes it). ``changes`` (see
    :func:`step_change`) should name records the system under test has.
    """
    with no_io(f"validate_write_back of source type {source_type!r}"):
        problems = registry.validate_write_back(source_type, config, settings)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise AssertionError(f"validate_write_back rejected the settings: {errors}")
    first = registry.write_back(source_type, CONTRACT_SOURCE_NAME, config, settings, changes)
    missing = [change.change_id for change in changes if change.change_id not in first]
    if missing:
        raise AssertionError(f"write_back returned no result for change(s) {missing}")
    again = registry.write_back(source_type, CONTRACT_SOURCE_NAME, config, settings, changes)
    repeated = [change.change_id for change in changes
                if first[change.change_id].outcome == "done" and again[change.change_id].outcome != "done"]
    if repeated:
        raise AssertionError(f"change(s) {repeated} written once were not done when written again: "
                             "write_back must write the state idempotently")
    return [first[change.change_id] for change in changes]


#: The installed ``pylantir`` console script beside this Python, run as a site runs it.
PYLANTIR = [str(Path(sys.executable).with_name("pylantir"))]


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PylantirProcess:
    """A ``pylantir`` process; ``returncode``, ``stderr`` (its log) and ``stdout`` are set once it has stopped."""

    process: subprocess.Popen[str]
    returncode: int | None = None
    stderr: str = ""
    stdout: str = ""


@contextmanager
def running_pylantir(args: list[str], port: int, host: str = "127.0.0.1", startup: float = 30.0,
                     env: Mapping[str, str] | None = None, peer: Peer | None = None) -> Iterator[PylantirProcess]:
    """``pylantir ARGS`` (a ``run``) as a process, yielded once ``host:port`` answers a C-ECHO (from ``peer``,
    when the server only answers some AE titles); stopped with SIGTERM when the block ends (killed if it does
    not stop within 30 s), even when the block fails."""
    from pylantir.dicom.client import DicomClientError, Peer, echo

    peer = peer or Peer(host, port)

    server = PylantirProcess(subprocess.Popen([*PYLANTIR, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                              text=True, env=dict(env) if env is not None else None))
    try:
        deadline = time.monotonic() + startup
        while True:
            if server.process.poll() is not None:
                raise AssertionError(f"pylantir {' '.join(args)} exited early: {server.process.communicate()[1]}")
            try:
                echo(peer)
                break
            except DicomClientError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"pylantir {' '.join(args)} did not answer on {host}:{port}") from None
                time.sleep(0.1)
        yield server
    finally:
        if server.process.poll() is None:
            server.process.send_signal(signal.SIGTERM)
        try:
            server.stdout, server.stderr = server.process.communicate(timeout=30)
        finally:
            if server.process.poll() is None:
                server.process.kill()
                server.process.communicate()
        server.returncode = server.process.returncode
