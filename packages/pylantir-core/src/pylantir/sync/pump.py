"""Reading a plugin's ``fetch_entries`` iterable in a worker thread, under a deadline.

The plugin's iterable is consumed in a daemon thread that hands chunks to the sync through a small
bounded queue (so memory stays at a few chunks). The sync waits for chunks only until its deadline or
until it is cancelled; a plugin stuck in a blocking call is then left behind and its output ignored.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

POLL_SECONDS = 0.1
QUEUE_CHUNKS = 4


class SyncStopped(Exception):
    """The sync was stopped before it committed: ``outcome`` is ``timeout`` or ``abandoned``."""

    def __init__(self, outcome: str, message: str):
        super().__init__(message)
        self.outcome = outcome


class _End:
    pass


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


class Pump:
    """Starts consuming ``open_items()`` in a thread at once; :meth:`chunks` yields what it read."""

    def __init__(self, open_items: Callable[[], Iterable[Any]], chunk_size: int, name: str):
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(open_items, chunk_size), name=f"pylantir-fetch-{name}", daemon=True
        )
        self._thread.start()

    def _run(self, open_items: Callable[[], Iterable[Any]], chunk_size: int) -> None:
        chunk: list[Any] = []
        try:
            items = iter(open_items())
            while not self._stop.is_set():
                chunk.extend(islice(items, chunk_size))  # a failing item leaves the ones before it in chunk
                if len(chunk) < chunk_size:
                    self._put(chunk)
                    self._put(_End())
                    return
                self._put(chunk)
                chunk = []
        except BaseException as exc:  # noqa: BLE001 - handed to the sync, which reports it
            self._put(chunk)
            self._put(_Failed(exc))

    def _put(self, item: Any) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=POLL_SECONDS)
                return
            except queue.Full:
                continue

    def chunks(self, deadline: float, cancel: threading.Event, timeout: float) -> Iterator[list[Any]]:
        """Chunks in order; raises the plugin's exception, or :class:`SyncStopped` on deadline/cancel."""
        while True:
            if cancel.is_set():
                raise SyncStopped("abandoned", "stopped before the fetch finished")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SyncStopped("timeout", f"no complete fetch within the source's timeout of {timeout:g} s")
            try:
                item = self._queue.get(timeout=min(remaining, POLL_SECONDS))
            except queue.Empty:
                continue
            if isinstance(item, _End):
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item

    def stop(self) -> None:
        """Tell the thread to stop at its next chunk (a blocked plugin call is left to itself)."""
        self._stop.set()
