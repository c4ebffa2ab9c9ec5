"""``/metrics``: the process's counters (:mod:`pylantir.metrics`) and, read at each scrape, the seconds since
each enabled source's last successful sync and the write-back outbox of each source that writes back (from
the database), and which sources this instance leads (from its own leadership). Needs a credential unless
``metrics`` is in ``http.open_endpoints``."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from pylantir.http.readiness import led_sources
from pylantir.http.services import Services, ServicesDep
from pylantir.http.system import open_or_authenticated
from pylantir.metrics import COLLECTORS, DATABASE_ERRORS
from pylantir.store import SourceState
from pylantir.sync.clock import as_utc
from pylantir.writeback.outbox import STATES, write_back_counts

router = APIRouter(tags=["health"])


class Scraped(Collector):
    """A collector read at each scrape from the app's :class:`Services`."""

    def __init__(self, services: Services):
        self.services = services


class SourceFreshness(Scraped):
    """``pylantir_source_seconds_since_success{source}``: from the stored source state, at each scrape (so an
    instance that does not sync itself shows what the syncing one stored); a source that never synced has none."""

    def collect(self) -> Iterator[Metric]:
        """One gauge per enabled source with a success."""
        gauge = GaugeMetricFamily("pylantir_source_seconds_since_success",
                                  "Seconds since the source's last successful sync", labels=["source"])
        names = [source.name for source in self.services.config.enabled_sources()]
        now = self.services.clock.now()
        try:
            with self.services.database.session() as session:
                states = session.scalars(select(SourceState).where(SourceState.source_name.in_(names))).all()
                for state in states:
                    if state.last_success_at is not None:
                        age = (now - as_utc(state.last_success_at)).total_seconds()
                        gauge.add_metric([state.source_name], max(age, 0.0))
        except SQLAlchemyError:
            DATABASE_ERRORS.labels("metrics").inc()
        yield gauge


class SourceLeadership(Scraped):
    """``pylantir_source_leader{source}``: 1 for each enabled source this instance leads (syncs) now, else 0."""

    def collect(self) -> Iterator[Metric]:
        """One gauge per enabled source."""
        gauge = GaugeMetricFamily("pylantir_source_leader", "1 when this instance leads the source's sync, "
                                  "0 when another instance (or none) does", labels=["source"])
        led = led_sources(self.services)
        for source in self.services.config.enabled_sources():
            gauge.add_metric([source.name], 1.0 if source.name in led else 0.0)
        yield gauge


class WriteBackOutbox(Scraped):
    """``pylantir_write_back_changes{source,state}`` and ``pylantir_write_back_oldest_pending_seconds{source}``,
    from the outbox at each scrape, for every enabled source with ``write_back`` (any instance's deliveries)."""

    def collect(self) -> Iterator[Metric]:
        """Changes per source and state (all four states, zeros included); the oldest pending one's age."""
        changes = GaugeMetricFamily("pylantir_write_back_changes", "Performed-step changes in the write-back "
                                    "outbox, by source and state (pending, done, superseded, failed: for good)",
                                    labels=["source", "state"])
        oldest = GaugeMetricFamily("pylantir_write_back_oldest_pending_seconds", "Age of the oldest change "
                                   "waiting to be written back to the source", labels=["source"])
        names = [source.name for source in self.services.config.write_back_sources()]
        now = self.services.clock.now()
        try:
            for name, counts in write_back_counts(self.services.database, names).items():
                for state in STATES:
                    changes.add_metric([name, state], float(getattr(counts, state)))
                if counts.oldest_pending is not None:
                    oldest.add_metric([name], max((now - counts.oldest_pending).total_seconds(), 0.0))
        except SQLAlchemyError:
            DATABASE_ERRORS.labels("metrics").inc()
        yield changes
        yield oldest


def _registry(services: Services) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    for collector in COLLECTORS:
        registry.register(collector)
    for scraped in (SourceFreshness, SourceLeadership, WriteBackOutbox):
        registry.register(scraped(services))
    return registry


@router.get("/metrics", dependencies=[Depends(open_or_authenticated("metrics"))],
            response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
async def metrics(services: ServicesDep) -> Response:
    """Prometheus text format: C-FIND requests, latency and matches by calling AE title and outcome;
    associations active, accepted and refused (by reason); MPPS events by state; sync runs and rows by source;
    seconds since each source's last success; which sources this instance leads; write-back changes by source
    and state, and the oldest pending one's age; database errors."""
    body = await run_in_threadpool(generate_latest, _registry(services))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
