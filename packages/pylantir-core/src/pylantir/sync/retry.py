"""The retry policy of a fetch: :class:`~pylantir.TransientSourceError` is retried with exponential back-off
(tenacity), within the source's ``timeout``, which bounds the fetch and its retries together."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from pylantir.contract import TransientSourceError
from pylantir.sync.pump import SyncStopped

log = logging.getLogger(__name__)

RETRY_ATTEMPTS = 3
RETRY_WAIT = 2.0  # seconds before the first retry; doubles each time
T = TypeVar("T")


def with_retries(
    attempt: Callable[[], T],
    source_name: str,
    *,
    deadline: float,
    timeout: float,
    cancel: threading.Event,
    attempts: int = RETRY_ATTEMPTS,
    wait: float = RETRY_WAIT,
) -> T:
    """Call ``attempt`` until it does not raise :class:`~pylantir.TransientSourceError`, at most ``attempts``
    times; raises :class:`~pylantir.sync.pump.SyncStopped` when ``cancel`` is set or ``deadline`` would pass
    during a back-off."""

    def sleep(seconds: float) -> None:
        remaining = deadline - time.monotonic()
        if cancel.wait(min(seconds, max(remaining, 0))):
            raise SyncStopped("abandoned", "stopped while waiting to retry")
        if seconds >= remaining:
            raise SyncStopped("timeout", f"retries did not succeed within the timeout of {timeout:g} s")

    def before_sleep(state: RetryCallState) -> None:
        log.warning("source '%s': %s; retrying (attempt %d of %d)", source_name,
                    state.outcome.exception() if state.outcome else "?", state.attempt_number + 1, attempts)

    retrying = Retrying(
        retry=retry_if_exception_type(TransientSourceError),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=wait),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(attempt)
