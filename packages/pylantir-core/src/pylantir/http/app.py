"""The HTTP service's app: :func:`create_app` builds it over the same configuration and database as DICOM.

Each concern is a router in its own module, included here; a new one is one more ``include_router`` line
(see docs/http-api.md, "Adding a router").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from pylantir import __version__
from pylantir.accounts import service_secret
from pylantir.config import PylantirConfig
from pylantir.http import dicomweb, docs, login, operations, previous_api, prometheus, system, worklist
from pylantir.http.pages import mount_pages
from pylantir.http.services import Services
from pylantir.store import Database
from pylantir.sync.clock import Clock, SystemClock

if TYPE_CHECKING:
    from pylantir.dicom import RunningServer
    from pylantir.sync.supervisor import SyncSupervisor


def create_app(
    config: PylantirConfig,
    database: Database,
    *,
    dicom: RunningServer | None = None,
    sync: SyncSupervisor | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    """The FastAPI app of ``config.http`` over ``database`` (``dicom``/``sync``: this process's, for ``/ready``
    and the sync API). The service's secret is read, or generated and stored, now."""
    services = Services(config, database, service_secret(database), dicom=dicom, sync=sync,
                        clock=clock or SystemClock())
    app = FastAPI(
        title="Pylantir", version=__version__, docs_url=None, redoc_url=None, openapi_url=None,
        description="DICOM Modality Worklist and MPPS server: REST API, health and dashboard.",
    )
    app.state.services = services
    if config.http.cors_allowed_origins:
        app.add_middleware(CORSMiddleware, allow_origins=config.http.cors_allowed_origins, allow_credentials=True,
                           allow_methods=["*"], allow_headers=["*"])
    app.include_router(system.router)  # /health, /ready
    app.include_router(prometheus.router)  # /metrics
    app.include_router(login.router)  # /api/v1/auth
    app.include_router(dicomweb.router)  # /dicomweb: MWL search and MPPS (PS3.18 14, 15)
    app.include_router(worklist.router)  # /api/v1/worklist, /api/v1/scanners
    app.include_router(operations.router)  # /api/v1/sources, /api/v1/mpps, /api/v1/audit
    app.include_router(previous_api.router)  # the previous Pylantir's /auth/login, /worklist, /users
    docs.mount_docs(app)
    mount_pages(app, services)  # /, /login, /worklist, /walk-in, /sources, /mpps, /static
    return app
