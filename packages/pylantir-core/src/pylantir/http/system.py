"""``/health`` (liveness) and ``/ready`` (readiness): open by default (``http.open_endpoints``), else they
need a login or a token like everything else."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from pylantir import __version__
from pylantir.config.models import OpenEndpoint
from pylantir.http.auth import authenticate
from pylantir.http.readiness import Role, instance_role, readiness_problems
from pylantir.http.services import ServicesDep

router = APIRouter(tags=["health"])


def open_or_authenticated(endpoint: OpenEndpoint) -> Callable[..., Awaitable[None]]:
    """A dependency that lets the request through when ``endpoint`` is in ``http.open_endpoints``, else
    authenticates it (any role)."""

    async def dependency(request: Request, services: ServicesDep) -> None:
        if endpoint not in services.config.http.open_endpoints:
            await authenticate(request, services)

    return dependency


class Health(BaseModel):
    """The process answers (the previous Pylantir's ``/health`` answered the same two fields)."""

    status: Literal["healthy"] = "healthy"
    timestamp: datetime
    version: str = __version__


class Readiness(BaseModel):
    """Whether this instance can serve: ``ready``, or ``not ready`` with every reason; and its role (a
    follower, which syncs no source itself, is ready: it serves DICOM and HTTP)."""

    status: Literal["ready", "not ready"]
    reasons: list[str]
    role: Role


@router.get("/health", response_model=Health, dependencies=[Depends(open_or_authenticated("health"))])
async def health(services: ServicesDep) -> Health:
    """Liveness: the process runs and answers HTTP (nothing else is checked; see ``/ready``)."""
    return Health(timestamp=services.clock.now())


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}},
            dependencies=[Depends(open_or_authenticated("ready"))])
async def ready(response: Response, services: ServicesDep) -> Readiness:
    """Readiness: 200 when the database answers, the DICOM port is bound and every enabled source synced
    successfully (by whichever instance leads it) within 3 of its intervals; 503 with the reasons otherwise.
    The body says this instance's role: single instance or one of several on a shared database, and the
    sources it leads and follows."""
    reasons = await run_in_threadpool(readiness_problems, services)
    role = instance_role(services)
    if reasons:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Readiness(status="not ready", reasons=reasons, role=role)
    return Readiness(status="ready", reasons=[], role=role)
