"""The process's Prometheus metrics (prometheus-client), counted where things happen and served at ``/metrics``.

No label ever holds patient data: labels are calling AE titles (capped at :data:`MAX_AE_LABELS` distinct
values per process, then ``other``, so that peers cannot grow the series without bound), outcomes, refusal
reasons, MPPS states, source names and row kinds. The metrics are not registered in prometheus-client's
global registry: each ``/metrics`` builds a registry of :data:`COLLECTORS` plus its database's gauges.
"""

from __future__ import annotations

import threading

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.registry import Collector

#: Distinct calling AE titles used as label values; later ones are counted as ``other``.
MAX_AE_LABELS = 200
OTHER_AE = "other"

CFIND_REQUESTS = Counter("pylantir_cfind_requests", "C-FIND requests answered, by calling AE title and outcome "
                         "(success, cancelled, refused, failed)", ["calling_ae", "outcome"], registry=None)
CFIND_SECONDS = Histogram("pylantir_cfind_duration_seconds", "Time to answer a C-FIND, from request to final "
                          "response", ["calling_ae", "outcome"], registry=None,
                          buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
CFIND_MATCHES = Counter("pylantir_cfind_matches", "Worklist items returned by C-FIND", ["calling_ae"], registry=None)
ASSOCIATIONS_ACTIVE = Gauge("pylantir_associations_active", "DICOM associations open now", registry=None)
ASSOCIATIONS_ACCEPTED = Counter("pylantir_associations_accepted", "DICOM associations accepted, by calling AE title",
                                ["calling_ae"], registry=None)
ASSOCIATIONS_REFUSED = Counter("pylantir_associations_refused", "DICOM associations refused or dropped before "
                               "acceptance, by reason", ["reason"], registry=None)
MPPS_EVENTS = Counter("pylantir_mpps_events", "MPPS N-CREATE/N-SET handled, by operation and resulting state "
                      "(or refused)", ["operation", "state"], registry=None)
SYNC_RUNS = Counter("pylantir_sync_runs", "Sync runs ended, by source and outcome", ["source", "outcome"],
                    registry=None)
SYNC_ROWS = Counter("pylantir_sync_rows", "Rows of sync runs, by source and kind (inserted, updated, unchanged, "
                    "rejected, removed)", ["source", "kind"], registry=None)
SYNC_WORKER_RESTARTS = Counter("pylantir_sync_worker_restarts", "Sync worker processes that ended while the run "
                                "went on, each replaced by a new one", registry=None)
DATABASE_ERRORS = Counter("pylantir_database_errors", "Database operations that failed, by operation",
                          ["operation"], registry=None)

#: Everything counted in this process (the ``/metrics`` registry adds its database's gauges).
COLLECTORS: tuple[Collector, ...] = (CFIND_REQUESTS, CFIND_SECONDS, CFIND_MATCHES, ASSOCIATIONS_ACTIVE,
                                     ASSOCIATIONS_ACCEPTED, ASSOCIATIONS_REFUSED, MPPS_EVENTS, SYNC_RUNS, SYNC_ROWS,
                                     SYNC_WORKER_RESTARTS, DATABASE_ERRORS)

_seen_aes: set[str] = set()
_seen_lock = threading.Lock()


def ae_label(ae_title: str) -> str:
    """The label value of a calling AE title: itself while fewer than :data:`MAX_AE_LABELS` were seen."""
    title = ae_title.strip() or "(empty)"
    with _seen_lock:
        if title in _seen_aes:
            return title
        if len(_seen_aes) < MAX_AE_LABELS:
            _seen_aes.add(title)
            return title
    return OTHER_AE
