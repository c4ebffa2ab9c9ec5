"""watch_for_changes: a fetch is skipped (state.unchanged) when no matched file changed since the last sync."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pylantir import FetchState, SourceError


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


def digest(registry, config: dict) -> str | None:
    """The csv plugin's ``content_digest`` for ``config``, called as the sync calls it (owner only)."""
    owner = registry.owner("csv", "site_b")
    results = registry.call_hook(owner, "content_digest", source_type="csv", source_name="site_b", config=config,
                                 config_dir=Path.cwd())
    return results[0] if results else None  # (pluggy drops a None result)


def test_content_digest_follows_the_bytes_and_the_files_of_a_glob(registry, tmp_path: Path):
    path = tmp_path / "site.csv"
    path.write_text("patient_id\nP1\n")
    config = {"file_path": str(tmp_path / "*.csv")}
    first = digest(registry, config)
    assert first is not None and digest(registry, config) == first
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert digest(registry, config) == first  # a touch reads the same rows
    path.write_text("patient_id\nP2\n")
    second = digest(registry, config)
    assert second != first
    (tmp_path / "more.csv").write_text("patient_id\nP3\n")
    assert digest(registry, config) not in (first, second)


def test_content_digest_leaves_watch_for_changes_its_own_outcome(registry, tmp_path: Path):
    (tmp_path / "site.csv").write_text("patient_id\nP1\n")
    assert digest(registry, {"file_path": str(tmp_path / "site.csv"), "watch_for_changes": "hash"}) is None


def test_content_digest_of_a_missing_file_is_the_fetchs_error(registry, tmp_path: Path):
    with pytest.raises(SourceError, match="does not exist"):
        digest(registry, {"file_path": str(tmp_path / "missing.csv")})
