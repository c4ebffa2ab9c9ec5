"""One sync of one source: fetch -> map -> check -> spool, then write everything in one transaction.

Lineage: every sync is a :class:`SyncRun` (outcome, counts, error) with its :class:`RejectedRow` items;
:class:`SourceState` keeps the last attempt and success, the count of consecutive failures and the
plugin's saved :class:`FetchState` (persisted only when the sync commits).

Failures: a :class:`SourceError` is reported by its message alone; any other exception is a plugin bug
(or ours) and is logged with its traceback. A :class:`TransientSourceError` is retried with exponential
back-off (tenacity) within the source's ``timeout``, which bounds the fetch and its retries. Nothing is
written to the worklist unless the sync commits; write transactions of concurrent syncs take turns.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert, update
from sqlalchemy.orm import Session
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from pylantir.config import DataSourceSettings
from pylantir.contract import FetchState, Record, Rejected, SourceError, TransientSourceError
from pylantir.plugins import PluginBugError, PluginRegistry, PluginUnavailableError
from pylantir.store import Database, RejectedRow, SourceState, SyncRun
from pylantir.sync.clock import Clock, SystemClock, as_utc
from pylantir.sync.identity import record_hasher
from pylantir.sync.mapping import FieldMapping, MappingError
from pylantir.sync.pump import POLL_SECONDS, Pump, SyncStopped
from pylantir.sync.rows import PreparedRow, Rejection, RowPreparer
from pylantir.sync.spool import Spool
from pylantir.sync.writer import Writer, stored_hashes, write_cache

log = logging.getLogger(__name__)

BATCH_SIZE = 2000  # rows per write batch (one hash query, one executemany)
CHUNK_SIZE = 100  # raw records per hand-over from the fetch thread (the queue holds a few chunks)
RETRY_ATTEMPTS = 3
RETRY_WAIT = 2.0  # seconds before the first retry; doubles each time
OK_OUTCOMES = ("success", "unchanged")
_WRITERS: weakref.WeakKeyDictionary[Engine, ThreadPoolExecutor] = weakref.WeakKeyDictionary()
_WRITERS_GUARD = threading.Lock()
Progress = Callable[[str, int], None]


@dataclass
class SyncResult:
    """What one sync of one source did."""

    source: str
    outcome: str = "running"  # success, unchanged, failed, timeout, abandoned
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    removed: int = 0
    conflicts: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    duration: float = 0.0
    run_id: int | None = None

    @property
    def ok(self) -> bool:
        """Whether the sync committed."""
        return self.outcome in OK_OUTCOMES


@dataclass
class _Fetched:
    state: FetchState
    spool: Spool
    hasher: Callable[[Mapping[str, Any]], str]
    known: dict[str, str]  # content hash -> identity of this source's stored rows
    seen: set[str] = field(default_factory=set)
    rejections: list[Rejection] = field(default_factory=list)
    fetched: int = 0
    unchanged: int = 0


@dataclass
class _Sync:
    """Everything one sync needs, so helpers take one argument."""

    database: Database
    registry: PluginRegistry
    source: DataSourceSettings
    ranks: Mapping[str, int]
    cancel: threading.Event
    now: datetime
    deadline: float
    batch_size: int
    progress: Progress | None
    result: SyncResult


def sync_source(
    database: Database,
    registry: PluginRegistry,
    source: DataSourceSettings,
    *,
    ranks: Mapping[str, int] | None = None,
    cancel: threading.Event | None = None,
    clock: Clock | None = None,
    site_timezone: str = "UTC",
    batch_size: int = BATCH_SIZE,
    retry_attempts: int = RETRY_ATTEMPTS,
    retry_wait: float = RETRY_WAIT,
    progress: Progress | None = None,
) -> SyncResult:
    """Sync ``source`` once and return what happened; never raises for a source's failure.

    :param ranks: dedup rank of every source (see :func:`pylantir.sync.writer.source_ranks`); by
        default this source outranks any other.
    :param cancel: set it to abandon the sync without committing (shutdown).
    :param site_timezone: the timezone in which "today" is judged for plausible dates.
    :param progress: called with the source name and the number of records fetched so far.
    """
    now = (clock or SystemClock()).now()
    started = time.monotonic()
    sync = _Sync(
        database, registry, source, ranks if ranks is not None else {source.name: 0},
        cancel or threading.Event(), now, started + source.timeout, batch_size, progress, SyncResult(source.name),
    )
    result = sync.result
    fetched: _Fetched | None = None
    try:
        result.run_id, previous, last_success = _begin(sync)
        mapping = FieldMapping.parse(source.field_mapping, where=f"source '{source.name}' field_mapping")
        preparer = RowPreparer(mapping, now.astimezone(ZoneInfo(site_timezone)).date())
        retrying = Retrying(
            retry=retry_if_exception_type(TransientSourceError),
            stop=stop_after_attempt(retry_attempts),
            wait=wait_exponential(multiplier=retry_wait),
            sleep=lambda seconds: _sleep(sync, seconds),
            before_sleep=lambda state: log.warning(
                "source '%s': %s; retrying (attempt %d of %d)",
                source.name, state.outcome.exception() if state.outcome else "?",
                state.attempt_number + 1, retry_attempts,
            ),
            reraise=True,
        )
        fetched = retrying(_fetch, sync, mapping, preparer, previous, last_success)
        _commit(sync, fetched)
    except SyncStopped as exc:
        result.outcome, result.error = exc.outcome, str(exc)
    except (SourceError, MappingError, PluginUnavailableError) as exc:
        result.outcome, result.error = "failed", str(exc)
    except Exception as exc:  # noqa: BLE001 - any bug is contained to this source's sync
        result.outcome, result.error = "failed", f"{type(exc).__name__}: {exc}"
        what = "plugin bug" if isinstance(exc, PluginBugError) else "unexpected error"
        log.exception("source '%s' (type %s): %s during sync", source.name, source.type, what)
    finally:
        if fetched is not None:
            fetched.spool.close()
    result.duration = time.monotonic() - started
    if not result.ok:
        _record_failure(sync)
    _log_summary(source, result)
    return result


def _sleep(sync: _Sync, seconds: float) -> None:
    """Back-off between fetch attempts that ends early on cancel and never passes the deadline."""
    remaining = sync.deadline - time.monotonic()
    if sync.cancel.wait(min(seconds, max(remaining, 0))):
        raise SyncStopped("abandoned", "stopped while waiting to retry")
    if seconds >= remaining:
        raise SyncStopped("timeout", f"retries did not succeed within the timeout of {sync.source.timeout:g} s")


def _begin(sync: _Sync) -> tuple[int, dict[str, Any], datetime | None]:
    """Record the attempt; return the run id and what the last successful sync saved."""
    source = sync.source
    with sync.database.session() as session:
        state = session.get(SourceState, source.name)
        if state is None:
            state = SourceState(source_name=source.name, consecutive_failures=0)
            session.add(state)
        state.last_attempt_at = sync.now
        run = SyncRun(source_name=source.name, source_type=source.type, started_at=sync.now, outcome="running")
        session.add(run)
        session.flush()
        last_success = as_utc(state.last_success_at) if state.last_success_at else None
        return run.id, dict(state.plugin_state or {}), last_success


def _fetch(
    sync: _Sync, mapping: FieldMapping, preparer: RowPreparer, previous: dict[str, Any], last_success: datetime | None
) -> _Fetched:
    """Read the whole source into a spool of prepared rows (no database lock is held)."""
    source = sync.source
    state = FetchState(previous=dict(previous), last_success=last_success)
    with sync.database.session() as session:
        known = stored_hashes(session, source.name)
    fetched = _Fetched(state, Spool(sync.batch_size), record_hasher(mapping.fingerprint), known)
    pump = Pump(
        lambda: sync.registry.fetch_entries(source.type, source.name, source.config, mapping.source_fields, state),
        min(CHUNK_SIZE, sync.batch_size),
        source.name,
    )
    try:
        for chunk in pump.chunks(sync.deadline, sync.cancel, sync.source.timeout):
            for item in chunk:
                fetched.fetched += 1
                _take(fetched, preparer, item)
            sync.result.fetched = fetched.fetched
            if sync.progress is not None:
                sync.progress(source.name, fetched.fetched)
    except BaseException:
        fetched.spool.close()
        raise
    finally:
        pump.stop()
    return fetched


def _take(fetched: _Fetched, preparer: RowPreparer, item: object) -> None:
    """Note one item the plugin yielded: unchanged, prepared and spooled, or rejected with the reason."""
    if isinstance(item, Record):
        data, location = item.data, item.location
    elif isinstance(item, (dict, Mapping)):  # a dict first: the check for a Mapping is slower
        data, location = item, f"record {fetched.fetched}"
    elif isinstance(item, Rejected):
        fetched.rejections.append(Rejection(item.location, None, item.reason))
        return
    else:
        reason = f"the plugin yielded {type(item).__name__}, not a record"
        fetched.rejections.append(Rejection(f"item {fetched.fetched}", None, reason))
        return
    digest = fetched.hasher(data)
    identity = fetched.known.get(digest)
    if identity is not None and identity not in fetched.seen:
        fetched.seen.add(identity)
        fetched.unchanged += 1
        return
    outcome = preparer.prepare(data, location, digest)
    if isinstance(outcome, PreparedRow):
        if outcome.identity not in fetched.seen:
            fetched.seen.add(outcome.identity)
            fetched.spool.add(outcome)
            return
        outcome = Rejection(location, None, f"same entry ({outcome.identity}) as an earlier record")
    if outcome.identity is not None:
        fetched.seen.add(outcome.identity)
    fetched.rejections.append(outcome)


def _writer(database: Database) -> ThreadPoolExecutor:
    """One writing thread per database engine: write transactions of concurrent syncs take turns.

    SQLite allows one writer anyway; on PostgreSQL it keeps two sources that provide the same new entry
    from inserting it at the same time. One thread also keeps the memory of the writes (SQLite's page
    cache, the batches) in one allocator arena, reused by every sync, instead of one arena per sync thread.
    """
    with _WRITERS_GUARD:
        if database.engine not in _WRITERS:
            _WRITERS[database.engine] = ThreadPoolExecutor(1, thread_name_prefix="pylantir-write")
        return _WRITERS[database.engine]


def _commit(sync: _Sync, fetched: _Fetched) -> None:
    """Write the fetch, its rejections, the run and the source state in one transaction."""
    written = _writer(sync.database).submit(_write, sync, fetched)
    while True:
        try:
            return written.result(timeout=POLL_SECONDS)
        except FutureTimeout:
            # once it runs, the write checks for cancellation itself (between batches)
            if sync.cancel.is_set() and written.cancel():
                raise SyncStopped("abandoned", "stopped while waiting to write") from None


def _write(sync: _Sync, fetched: _Fetched) -> None:
    source, result = sync.source, sync.result
    with sync.database.session() as session:
        # A write first, so that SQLite takes its write lock before any read of this transaction.
        session.execute(update(SyncRun).where(SyncRun.id == result.run_id).values(outcome="writing"))
        writer = Writer(session, source.name, sync.ranks, sync.now, result.run_id)
        if not fetched.state.unchanged:
            with write_cache(session):
                for batch in fetched.spool.batches():
                    if sync.cancel.is_set():
                        raise SyncStopped("abandoned", "stopped before the sync committed")
                    writer.write_batch(batch)
            # When every row the source owned was seen unchanged, there is nothing to remove.
            if fetched.state.complete and fetched.unchanged < len(fetched.known):
                warning = writer.remove_missing(fetched.seen, source.removal_guard_fraction)
                result.warnings.extend([warning] if warning else [])
        result.outcome = "unchanged" if fetched.state.unchanged else "success"
        result.rejected = len(fetched.rejections)
        writer.counts.unchanged += fetched.unchanged
        for name, value in vars(writer.counts).items():
            setattr(result, name, value)
        _store_rejections(session, sync, fetched.rejections)
        session.execute(
            update(SyncRun).where(SyncRun.id == result.run_id).values(
                outcome=result.outcome, finished_at=sync.now, error="; ".join(result.warnings) or None,
                **_counts(result),
            )
        )
        state = session.get_one(SourceState, source.name)
        state.last_success_at, state.consecutive_failures = sync.now, 0
        state.plugin_state = dict(fetched.state.saved)


def _store_rejections(session: Session, sync: _Sync, rejections: list[Rejection]) -> None:
    name = sync.source.name
    for rejection in rejections:
        log.warning("source '%s', %s rejected: %s", name, rejection.location, rejection.reason)
    if rejections:
        session.execute(
            insert(RejectedRow),
            [
                {
                    "sync_run_id": sync.result.run_id,
                    "location": rejection.location[:128],
                    "field": rejection.field[:64] if rejection.field else None,
                    "reason": f"source '{name}', {rejection.location}: {rejection.reason}",
                }
                for rejection in rejections
            ],
        )


COUNTS = ("fetched", "inserted", "updated", "unchanged", "rejected", "removed")


def _counts(result: SyncResult) -> dict[str, int]:
    return {name: getattr(result, name) for name in COUNTS}


def _record_failure(sync: _Sync) -> None:
    """Store a failed run and count the failure (in its own transaction; the sync's was rolled back)."""
    result = sync.result
    try:
        with sync.database.session() as session:
            if result.run_id is not None:
                session.execute(
                    update(SyncRun).where(SyncRun.id == result.run_id).values(
                        outcome=result.outcome, finished_at=sync.now, error=result.error, **_counts(result)
                    )
                )
            state = session.get(SourceState, sync.source.name)
            if state is not None:
                state.consecutive_failures += 1
    except Exception:  # noqa: BLE001 - the database itself may be what failed
        log.exception("source '%s': could not record the failed sync", sync.source.name)


def _log_summary(source: DataSourceSettings, result: SyncResult) -> None:
    counts = " ".join(f"{name}={value}" for name, value in _counts(result).items())
    message = f"sync of source '{source.name}' ({source.type}): {result.outcome}, {counts}"
    if result.conflicts:
        message += f" conflicts={result.conflicts}"
    message += f" in {result.duration:.2f} s"
    if result.ok:
        log.info(message)
    else:
        log.warning("%s: %s", message, result.error)
