"""The retry policy of a fetch: :class:`~pylantir.TransientSourceError` is retried with exponential back-off
(tenacity), within the source's ``timeout``, which bounds the fetch and its retries together.

The first attempt runs without tenacity: it is imported only when there is something to retry, not before every
sync's first fetch."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from pylantir.contract import TransientSourceError
from pylantir.sync.pump import SyncStopped

if TYPE_CHECKING:
    from tenacity import RetryCallState

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
    try:
        return attempt()
    except TransientSourceError as exc:
        first_failure: TransientSourceError | None = exc
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

    def attempts_after_the_first() -> T:
        """Tenacity's first attempt is the one that failed above: it fails again, without calling ``attempt``."""
        nonlocal first_failure
        if first_failure is not None:
            failure, first_failure = first_failure, None
            raise failure
        return attempt()

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
    return retrying(attempts_after_the_first)
