"""Garbage collection thresholds while syncs run: raised while any sync runs, the previous ones back after."""

from __future__ import annotations

import gc
import threading

from pylantir.sync.gcpolicy import SYNC_THRESHOLDS, fewer_collections


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
