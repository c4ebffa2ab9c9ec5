"""One sync of one source: the orchestration of fetch -> spool -> one write transaction.

A source whose plugin gives a content digest is first checked against the proof its last clean sync left
(:mod:`~pylantir.sync.unchanged`): when it holds, the run is recorded without a fetch.

The jobs live in their own modules: :mod:`~pylantir.sync.fetch` (the per-item pipeline with in-fetch
dedup), :mod:`~pylantir.sync.retry` (retry policy), :mod:`~pylantir.sync.transaction` (the write
transaction), :mod:`~pylantir.sync.lineage` (runs, rejections, failures, interrupted runs) and
:mod:`~pylantir.sync.result` (the run counts).

Failures: a :class:`~pylantir.SourceError` is reported by its message alone; a plugin bug (or ours) is one
ERROR line naming the source, the plugin, the exception and where it was raised, with the traceback at
DEBUG (``-vv``); a database failure (a lost connection, a full disk) is one ERROR line with the driver's
words, traceback at DEBUG too. Nothing is written to the worklist unless the sync commits.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from pylantir.config import DataSourceSettings
from pylantir.contract import FetchState, SourceError
from pylantir.gcpolicy import fewer_collections
from pylantir.plugins import PluginBugError, PluginRegistry, PluginUnavailableError
from pylantir.store import Database
from pylantir.store.database import failure_detail
from pylantir.sync.clock import Clock, SystemClock
from pylantir.sync.fetch import CHUNK_SIZE, Fetched, Progress, fetch_source
from pylantir.sync.lineage import Runner, begin_run, log_summary, record_failure
from pylantir.sync.mapping import FieldMapping, MappingError
from pylantir.sync.pump import SyncStopped
from pylantir.sync.result import COUNTS, SyncResult
from pylantir.sync.retry import RETRY_ATTEMPTS, RETRY_WAIT, with_retries
from pylantir.sync.rows import RowPreparer
from pylantir.sync.spool import Spool
from pylantir.sync.transaction import UnchangedJob, WriteJob, commit, commit_if_unchanged
from pylantir.sync.unchanged import content_key
from pylantir.sync.writer import stored_hashes

__all__ = ["COUNTS", "Progress", "SyncResult", "sync_source"]

log = logging.getLogger(__name__)

BATCH_SIZE = 2000  # rows per write batch (one hash query, one executemany)


@fewer_collections()
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
    fence: Callable[[Session], None] | None = None,
    runner: Runner | None = None,
) -> SyncResult:
    """Sync ``source`` once and return what happened; never raises for a source's failure.

    :param ranks: dedup rank of every source (see :func:`pylantir.sync.writer.source_ranks`); by
        default this source outranks any other.
    :param cancel: set it to abandon the sync without committing (shutdown).
    :param site_timezone: the timezone in which "today" is judged for plausible dates.
    :param progress: called with the source name and the number of records fetched so far.
    :param fence: called in the write transaction; raises :class:`SyncStopped` to abandon the write (the
        instance no longer leads the source).
    :param runner: the instance the run is recorded for (default: this process).
    """
    now = (clock or SystemClock()).now()
    started = time.monotonic()
    cancel = cancel or threading.Event()
    result = SyncResult(source=source.name)
    spool: Spool | None = None
    try:
        result.run_id, previous, last_success = begin_run(database, source, now, runner)
        mapping = FieldMapping.of_source(source, where=f"source '{source.name}' field_mapping")
        today = now.astimezone(ZoneInfo(site_timezone)).date()
        preparer = RowPreparer(mapping, today)
        key = content_key(registry, source, mapping.fingerprint, today)

        def attempt() -> tuple[Fetched, Spool]:
            nonlocal spool
            if spool is not None:
                spool.close()
            spool = Spool(batch_size)
            with database.session() as session:
                known = stored_hashes(session, source.name)
            state = FetchState(previous=dict(previous), last_success=last_success)
            fetched = fetch_source(
                registry, source, mapping, preparer, state, spool.add, known=known,
                deadline=started + source.timeout, cancel=cancel, chunk_size=min(CHUNK_SIZE, batch_size),
                progress=_counting(result, progress),
            )
            return fetched, spool

        if key is not None and commit_if_unchanged(UnchangedJob(database, source, key, now, cancel, result, started,
                                                                fence)):
            if progress is not None:  # nothing fetched: the records of the sync it repeats
                progress(source.name, result.fetched)
        else:
            fetched, spool = with_retries(
                attempt, source.name, deadline=started + source.timeout, timeout=source.timeout, cancel=cancel,
                attempts=retry_attempts, wait=retry_wait,
            )
            result.fetched = fetched.fetched
            commit(WriteJob(database, source, ranks if ranks is not None else {source.name: 0}, now, cancel, result,
                            fetched, spool, started, fence, key))
    except SyncStopped as exc:
        result.outcome, result.error = exc.outcome, str(exc)
    except (SourceError, MappingError, PluginUnavailableError) as exc:
        result.outcome, result.error = "failed", str(exc)
    except SQLAlchemyError as exc:  # the database failed (connection lost, disk full, ...): nothing committed
        result.outcome, result.error = "failed", f"the database failed: {failure_detail(exc)}"
        log.error("source '%s' (type %s): %s", source.name, source.type, result.error)
        log.debug("the database failure's traceback", exc_info=True)
    except PluginBugError as exc:
        result.outcome, result.error = "failed", str(exc)
        log.error("source '%s' (type %s): plugin bug during sync: %s", source.name, source.type, exc)
        log.debug("the plugin bug's traceback", exc_info=True)
    except Exception as exc:  # noqa: BLE001 - any bug is contained to this source's sync
        result.outcome, result.error = "failed", f"{type(exc).__name__}: {exc}"
        log.exception("source '%s' (type %s): unexpected error during sync", source.name, source.type)
    finally:
        if spool is not None:
            spool.close()
    result.duration = time.monotonic() - started
    if not result.ok:
        record_failure(database, source, result, now)
    log_summary(source, result)
    count_in_metrics(result)
    return result


def count_in_metrics(result: SyncResult) -> None:
    """Count a sync in this process's metrics (:mod:`pylantir.metrics`): its outcome, and its rows by kind."""
    from pylantir import metrics  # here: `pylantir sync` fetches before prometheus-client loads (~20 ms)

    metrics.SYNC_RUNS.labels(result.source, result.outcome).inc()
    for kind in ("inserted", "updated", "unchanged", "rejected", "removed"):
        if count := getattr(result, kind):
            metrics.SYNC_ROWS.labels(result.source, kind).inc(count)


def _counting(result: SyncResult, progress: Progress | None) -> Progress:
    """Keep ``result.fetched`` current (a failed sync reports how far it got), then tell ``progress``."""

    def report(name: str, count: int) -> None:
        result.fetched = count
        if progress is not None:
            progress(name, count)

    return report
