"""Garbage collection: start-up's objects frozen out of later collections (its garbage collected first);
thresholds while syncs run: raised while any sync runs, the previous ones back after."""

from __future__ import annotations

import gc
import threading
import weakref

from pylantir.gcpolicy import SYNC_THRESHOLDS, fewer_collections, freeze_start_up


class _Node:
    """An object the collector tracks, which can refer to itself."""

    def __init__(self) -> None:
        self.me = self


def test_start_up_objects_are_left_out_of_later_collections_and_its_garbage_is_collected() -> None:
    alive, garbage = _Node(), _Node()
    gone = weakref.ref(garbage)
    del garbage  # a reference cycle: only the collector frees it
    try:
        freeze_start_up()
        assert gone() is None, "start-up's garbage was frozen instead of collected"
        later = _Node()
        tracked = [id(node) for node in gc.get_objects() if isinstance(node, _Node)]
        assert id(alive) not in tracked and id(later) in tracked
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_thresholds_are_raised_while_any_sync_runs_and_restored_after_the_last() -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(600, 9, 8)
        inside, release = threading.Event(), threading.Event()

        def other_sync() -> None:
            with fewer_collections():
                inside.set()
                release.wait(30)

        thread = threading.Thread(target=other_sync)
        with fewer_collections():
            assert gc.get_threshold() == SYNC_THRESHOLDS
            thread.start()
            assert inside.wait(30)
        assert gc.get_threshold() == SYNC_THRESHOLDS  # the other sync still runs
        release.set()
        thread.join(30)
        assert gc.get_threshold() == (600, 9, 8)
    finally:
        gc.set_threshold(*before)


def test_thresholds_come_back_when_a_sync_raises() -> None:
    before = gc.get_threshold()
    try:
        with fewer_collections():
            raise KeyError("sync failed")
    except KeyError:
        pass
    assert gc.get_threshold() == before
