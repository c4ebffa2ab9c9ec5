"""The sync service: what ``pylantir run`` starts in the background and ``pylantir sync`` runs once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, wait

from sqlalchemy import select

from pylantir.config import DataSourceSettings, PylantirConfig
from pylantir.plugins import PluginRegistry
from pylantir.store import Database, SourceState
from pylantir.sync.clock import Clock, SystemClock, as_utc
from pylantir.sync.leadership import Leadership
from pylantir.sync.lineage import Runner, close_interrupted_runs, close_previous_leaders_runs
from pylantir.sync.runner import Progress, SyncResult, sync_source
from pylantir.sync.scheduler import Scheduler, SourceHealth
from pylantir.sync.writer import source_ranks

log = logging.getLogger(__name__)

#: Seconds that abandoned syncs get to notice the cancellation and roll back.
CANCEL_GRACE = 5.0


def load_health(database: Database, names: Iterable[str]) -> dict[str, SourceHealth]:
    """Each named source's last attempt and consecutive failures, as stored by earlier syncs."""
    wanted = list(names)
    with database.session() as session:
        states = session.scalars(select(SourceState).where(SourceState.source_name.in_(wanted))).all()
        return {
            state.source_name: SourceHealth(
                as_utc(state.last_attempt_at) if state.last_attempt_at else None, state.consecutive_failures
            )
            for state in states
        }


def select_sources(config: PylantirConfig, names: list[str] | None) -> list[DataSourceSettings]:
    """The named enabled sources (all enabled ones for ``None``); :class:`ValueError` names unknown ones."""
    enabled = {source.name: source for source in config.enabled_sources()}
    if names is None:
        return list(enabled.values())
    unknown = [name for name in names if name not in enabled]
    if unknown:
        raise ValueError(
            f"no enabled data source named {', '.join(repr(n) for n in unknown)}; "
            f"enabled: {', '.join(enabled) or 'none'}"
        )
    return [enabled[name] for name in names]


class SyncService:
    """Scheduled syncs of every enabled source (:meth:`start`/:meth:`stop`) or one round (:meth:`run_once`)."""

    def __init__(
        self, config: PylantirConfig, registry: PluginRegistry, database: Database, clock: Clock | None = None,
        leadership: Leadership | None = None, instance: Runner | None = None,
    ):
        """Prepare the schedule; runs left open by dead processes of this host are closed as interrupted.

        With a ``leadership`` (``pylantir run``), the scheduled syncs are those of the sources this instance
        leads; :meth:`run_once` syncs what it is asked to, led or not (``pylantir sync``).

        ``instance``: the instance the runs are recorded for (default: this process); the sync worker of
        ``pylantir run`` records them for the ``run``, and closes the ones its dead predecessor left open.
        """
        close_interrupted_runs(database, restarted=instance)
        self.instance = instance
        self.config = config
        self.registry = registry
        self.database = database
        self.clock = clock or SystemClock()
        #: Called with each source's name and count of records fetched so far (``pylantir sync``'s display).
        self.progress: Progress | None = None
        #: Called with the result of every sync when it ends.
        self.on_finished: Callable[[SyncResult], None] | None = None
        self._cancel = threading.Event()
        self._ranks = source_ranks(config)
        self._sources = {source.name: source for source in config.enabled_sources()}
        self.leadership = leadership
        self.scheduler = Scheduler(
            self._sources.values(), self._sync, self.clock, config.timezone, load_health(database, self._sources),
            leadership=leadership, taken_over=self._taken_over,
        )

    def _taken_over(self, names: set[str]) -> dict[str, SourceHealth]:
        """The stored schedule of sources just taken over; one its previous leader left mid-sync is due now."""
        interrupted = close_previous_leaders_runs(self.database, names, self.instance)
        health = load_health(self.database, names)
        for name in interrupted & set(health):
            health[name].last_attempt = None
        return health

    def _sync(self, source: DataSourceSettings) -> SyncResult:
        leadership = self.leadership
        result = sync_source(
            self.database, self.registry, source, ranks=self._ranks, cancel=self._cancel, clock=self.clock,
            site_timezone=self.config.timezone, progress=self.progress,
            fence=(lambda session: leadership.fence(session, source.name)) if leadership is not None else None,
            runner=self.instance,
        )
        if self.on_finished is not None:
            self.on_finished(result)
        return result

    def start(self) -> None:
        """Start syncing every enabled source on its own schedule, in the background."""
        log.info("sync service: scheduling %d source(s)", len(self._sources))
        self.scheduler.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop scheduling; wait up to ``timeout`` s for running syncs, then abandon them uncommitted."""
        self.scheduler.stop()
        running = self.scheduler.in_flight()
        _, pending = wait(running, timeout=timeout)
        if pending:
            log.warning("sync service: abandoning %d running sync(s) without committing", len(pending))
            self._cancel.set()
            wait(pending, timeout=CANCEL_GRACE)
        if self.leadership is not None:
            self.leadership.close()

    def submit(self, source_name: str) -> Future[SyncResult]:
        """Sync the enabled source ``source_name`` now (led or not), or join its sync already running."""
        return self.scheduler.submit(self._sources[source_name])

    def run_once(self, source_names: list[str] | None = None) -> list[SyncResult]:
        """Sync the named enabled sources (default: all) now, concurrently; wait and return the results.

        Raises :class:`ValueError` naming any source that is not configured and enabled.
        """
        futures = [self.scheduler.submit(source) for source in select_sources(self.config, source_names)]
        return [future.result() for future in futures]
