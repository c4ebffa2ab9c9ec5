"""``/metrics``: the process's counters (:mod:`pylantir.metrics`) and, read from the database at each scrape,
the seconds since each enabled source's last successful sync. Needs a credential unless ``metrics`` is in
``http.open_endpoints``."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from pylantir.http.services import Services, ServicesDep
from pylantir.http.system import open_or_authenticated
from pylantir.metrics import COLLECTORS, DATABASE_ERRORS
from pylantir.store import SourceState
from pylantir.sync.clock import as_utc

router = APIRouter(tags=["health"])


class SourceFreshness(Collector):
    """``pylantir_source_seconds_since_success{source}``: from the stored source state, at each scrape (so an
    instance that does not sync itself shows what the syncing one stored); a source that never synced has none."""

    def __init__(self, services: Services):
        self.services = services

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


def _registry(services: Services) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    for collector in COLLECTORS:
        registry.register(collector)
    registry.register(SourceFreshness(services))
    return registry


@router.get("/metrics", dependencies=[Depends(open_or_authenticated("metrics"))],
            response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
async def metrics(services: ServicesDep) -> Response:
    """Prometheus text format: C-FIND requests, latency and matches by calling AE title and outcome;
    associations active, accepted and refused (by reason); MPPS events by state; sync runs and rows by source;
    seconds since each source's last success; database errors."""
    body = await run_in_threadpool(generate_latest, _registry(services))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
