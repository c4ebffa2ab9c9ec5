"""Garbage collection in Pylantir's processes: what start-up made is left out of later collections, syncs
run with fewer collections of the young generation, and a command's exit skips the last one.

**After start-up** (:func:`freeze_start_up`: ``pylantir run`` once it serves, its sync worker once it is
ready): what start-up left for the collector is collected, then every object alive (the modules, the
configuration, the models, the web application: over 100,000 objects) is moved to the collector's permanent
generation, which no later collection traverses. Before, each full collection walked them all: about 35 ms
with the GIL held, which pynetdicom's association server also forces every 60 associations
(``AssociationServer.service_actions``), so one C-FIND in about sixty waited for it (C-FIND p99 103 -> 51 ms
on 10,000 items, docs/benchmarks.md). Those objects live as long as the process anyway; what they make later
is collected as usual.

**At a command's exit** (:func:`before_exit`, the ``pylantir`` console script once its command ran): the
interpreter's shutdown would walk every object once more with the cycle collector (about 0.1 s of each
command that loaded SQLAlchemy and pydantic, a fifth of a short ``pylantir sync``); nothing needs it, as
the commands close what they open (files, the database engine), logging flushes at exit and the operating
system frees the memory. The shutdown itself (atexit handlers, thread joins) still runs.

**While syncs run** (:func:`fewer_collections`): a sync allocates a few tuples, dicts and strings per record,
nearly none of them in reference cycles, and keeps some alive (a batch, the identities seen): with the
interpreter's default thresholds (700, 10, 10) the collector runs about 900 times in a 100,000-row sync and
traverses the surviving rows again and again, and the full collections it triggers traverse every object of
the process not frozen (about 0.15-0.2 s of CPU of a 4 s first sync, docs/benchmarks.md). While at least one
sync of the process runs, the thresholds are :data:`SYNC_THRESHOLDS`; the collector still runs (a cycle made
meanwhile, by a sync or by another thread of ``pylantir run``, is collected after at most about 10,000
allocations), and the thresholds in force before come back when the last sync ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SYNC_THRESHOLDS = (10_000, 50, 100)

_lock = threading.Lock()
_running = 0
_before: tuple[int, int, int] = gc.get_threshold()


def freeze_start_up() -> None:
    """Collect the garbage start-up made, then keep every object alive now out of later collections."""
    gc.collect()
    gc.freeze()


def before_exit() -> None:
    """Leave every object out of the collections of the interpreter's shutdown (the process ends next)."""
    gc.freeze()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Use :data:`SYNC_THRESHOLDS` while the block runs (and any other sync's block of this process); also a
    decorator (``@fewer_collections()``), as every ``contextmanager`` is."""
    global _running, _before
    with _lock:
        if _running == 0:
            _before = gc.get_threshold()
            gc.set_threshold(*SYNC_THRESHOLDS)
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0:
                gc.set_threshold(*_before)
