"""The HTTP service of ``pylantir run``: REST API, health, docs (and the dashboard), over FastAPI + uvicorn.

``create_app(config, database, dicom=..., sync=...)`` builds the app; ``start_http(app, config.http)`` serves
it in a thread. Routers authenticate with the dependencies of :mod:`pylantir.http.auth` and reach the
process's parts through :func:`pylantir.http.services.get_services` (docs/http-api.md).
"""

from pylantir.http.app import create_app
from pylantir.http.server import HttpStartError, RunningHttp, start_http

__all__ = ["HttpStartError", "RunningHttp", "create_app", "start_http"]
