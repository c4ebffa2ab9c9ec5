"""What the HTTP service's routers work with: the process's configuration, database, DICOM server and sync.

One :class:`Services` per app (``app.state.services``); a router asks for it with ``Depends(get_services)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from pylantir.config import PylantirConfig
from pylantir.http.throttle import LoginThrottle
from pylantir.store import Database
from pylantir.sync.clock import Clock, SystemClock

if TYPE_CHECKING:
    from pylantir.dicom import RunningServer
    from pylantir.sync.leadership import LeadershipView
    from pylantir.sync.supervisor import SyncSupervisor


@dataclass
class Services:
    """The parts of the running process that the HTTP service shows and steers."""

    config: PylantirConfig
    database: Database
    #: The key of CSRF tokens (:func:`pylantir.accounts.service_secret`).
    secret: bytes
    #: The DICOM server of this process (``None``: it serves none, as ``pylantir start-api``; ``/ready`` skips it).
    dicom: RunningServer | None = None
    #: The sync of this process, in its worker process (``None``: ``--no-sync``, or ``pylantir start-api``).
    sync: SyncSupervisor | None = None
    clock: Clock = field(default_factory=SystemClock)
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    #: When the service started: a source that never synced is judged stale from then on.
    started_at: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.started_at = self.clock.now()

    @property
    def leadership(self) -> LeadershipView | None:
        """This process's leadership of its sources' syncs (``None`` when it does not sync)."""
        return self.sync.leadership if self.sync is not None else None


def get_services(request: Request) -> Services:
    """The app's :class:`Services` (a FastAPI dependency)."""
    services: Services = request.app.state.services
    return services


#: An endpoint's parameter ``services: ServicesDep`` receives the app's :class:`Services`.
ServicesDep = Annotated[Services, Depends(get_services)]
