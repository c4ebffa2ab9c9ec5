"""watch_for_changes: a fetch is skipped (state.unchanged) when no matched file changed since the last sync."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pylantir import FetchState


def sync(fetch, config: dict, previous: FetchState | None = None) -> tuple[list, FetchState]:
    """One fetch as the core runs it: the state saved by the previous (successful) fetch comes back."""
    state = FetchState(previous=previous.saved if previous else {})
    return fetch(config, fields=["patient_id"], state=state), state


@pytest.mark.parametrize("mode", [True, "mtime", "hash"])
def test_unchanged_files_yield_nothing_and_changed_ones_are_read_again(fetch, tmp_path: Path, mode):
    path = tmp_path / "site.csv"
    path.write_text("patient_id\nP1\n")
    config = {"file_path": str(tmp_path / "*.csv"), "watch_for_changes": mode}
    first, state = sync(fetch, config)
    assert len(first) == 1 and not state.unchanged
    second, state = sync(fetch, config, state)
    assert second == [] and state.unchanged
    path.write_text("patient_id\nP1\nP2\n")
    third, state = sync(fetch, config, state)
    assert len(third) == 2 and not state.unchanged
    (tmp_path / "more.csv").write_text("patient_id\nP3\n")
    fourth, state = sync(fetch, config, state)
    assert len(fourth) == 3 and not state.unchanged


def test_mtime_sees_a_touch_and_hash_does_not(fetch, tmp_path: Path):
    path = tmp_path / "site.csv"
    path.write_text("patient_id\nP1\n")
    by_mtime, by_hash = {"file_path": str(path), "watch_for_changes": "mtime"}, {
        "file_path": str(path), "watch_for_changes": "hash"}
    _, mtime_state = sync(fetch, by_mtime)
    _, hash_state = sync(fetch, by_hash)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert len(sync(fetch, by_mtime, mtime_state)[0]) == 1
    assert sync(fetch, by_hash, hash_state)[1].unchanged


def test_without_watching_every_fetch_reads_and_saves_nothing(fetch, tmp_path: Path):
    path = tmp_path / "site.csv"
    path.write_text("patient_id\nP1\n")
    _, state = sync(fetch, {"file_path": str(path)})
    items, state = sync(fetch, {"file_path": str(path)}, state)
    assert len(items) == 1 and state.saved == {} and not state.unchanged


def test_switching_the_mode_reads_again(fetch, tmp_path: Path):
    path = tmp_path / "site.csv"
    path.write_text("patient_id\nP1\n")
    _, state = sync(fetch, {"file_path": str(path), "watch_for_changes": "mtime"})
    items, state = sync(fetch, {"file_path": str(path), "watch_for_changes": "hash"}, state)
    assert len(items) == 1 and not state.unchanged
