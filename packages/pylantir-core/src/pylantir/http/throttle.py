"""The login rate limit: failed logins counted per client address and per username over a sliding window.

In memory, per process (each instance of a cluster counts its own). A success clears the username's count.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

#: Failed logins allowed per username, and per client address (a proxy or a shared workstation carries
#: several users' logins), within :data:`WINDOW_SECONDS`.
MAX_USER_FAILURES = 5
MAX_ADDRESS_FAILURES = 20
WINDOW_SECONDS = 300.0


class LoginThrottle:
    """Counts failed logins; :meth:`retry_after` says how long a client or username must wait."""

    def __init__(self, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.limits = {"user": MAX_USER_FAILURES, "addr": MAX_ADDRESS_FAILURES}
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.get(key, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            self._failures.pop(key, None)
        return failures

    def retry_after(self, address: str, username: str) -> int:
        """Seconds until a login of ``username`` from ``address`` may be tried again (0: now)."""
        now = self._clock()
        with self._lock:
            waits = [
                failures[0] + self.window - now
                for kind, key in (("addr", f"addr:{address}"), ("user", f"user:{username}"))
                if len(failures := self._recent(key, now)) >= self.limits[kind]
            ]
        return math.ceil(max(waits)) if waits else 0

    def failed(self, address: str, username: str) -> None:
        """Count a failed login."""
        now = self._clock()
        with self._lock:
            for key in (f"addr:{address}", f"user:{username}"):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, username: str) -> None:
        """Forget the username's failures (the address's stay: one client guessing many names stays limited)."""
        with self._lock:
            self._failures.pop(f"user:{username}", None)
