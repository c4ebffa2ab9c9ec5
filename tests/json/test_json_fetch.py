"""fetch_entries of the json source through a real registry: the three formats, nesting, globs, changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pylantir import FetchState, Record, Rejected, SourceError

BOOKINGS = [
    {"patient": {"id": "P001", "name": {"family": "DEMO", "given": "ALICE"}}, "slot": {"date": "2026-11-25"}},
    {"patient": {"id": "P002", "name": {"family": "DEMO", "given": "BOB"}}, "slot": {"date": "2026-11-26"}},
]


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_an_array_of_objects_keeps_nested_values(fetch, tmp_path: Path):
    path = write(tmp_path / "bookings.json", json.dumps(BOOKINGS, indent=2))
    assert fetch({"file_path": str(path)}) == [
        Record(BOOKINGS[0], "bookings.json, index 0"),
        Record(BOOKINGS[1], "bookings.json, index 1"),
    ]


def test_records_under_a_dotted_records_path(fetch, tmp_path: Path):
    document = {"meta": {"exported": "2026-11-25", "list": [1, 2]}, "data": {"count": 2, "items": BOOKINGS}}
    path = write(tmp_path / "export.json", json.dumps(document))
    items = fetch({"file_path": str(path), "format": "object", "records_path": "data.items"})
    assert [item.data for item in items] == BOOKINGS


def test_json_lines(fetch, tmp_path: Path):
    path = write(tmp_path / "bookings.jsonl", "\n".join(json.dumps(b) for b in BOOKINGS[:1]) + "\n\n" +
                 json.dumps(BOOKINGS[1]) + "\n")
    assert fetch({"file_path": str(path), "format": "jsonl"}) == [
        Record(BOOKINGS[0], "bookings.jsonl, line 1"),
        Record(BOOKINGS[1], "bookings.jsonl, line 3"),
    ]


def test_non_object_records_are_rejected_with_their_index(fetch, tmp_path: Path):
    path = write(tmp_path / "mixed.json", json.dumps([BOOKINGS[0], 7, ["x"], "s", None, True, BOOKINGS[1]]))
    items = fetch({"file_path": str(path)})
    assert items[1:6] == [
        Rejected("mixed.json, index 1", "the record is a number, expected an object"),
        Rejected("mixed.json, index 2", "the record is an array, expected an object"),
        Rejected("mixed.json, index 3", "the record is a string, expected an object"),
        Rejected("mixed.json, index 4", "the record is null, expected an object"),
        Rejected("mixed.json, index 5", "the record is a boolean, expected an object"),
    ]
    assert [type(items[0]), type(items[6])] == [Record, Record]


def test_a_non_object_json_line_is_rejected_with_its_line(fetch, tmp_path: Path):
    path = write(tmp_path / "b.jsonl", '{"id": 1}\n[1, 2]\n{"id": 2}\n')
    assert fetch({"file_path": str(path), "format": "jsonl"})[1] == Rejected(
        "b.jsonl, line 2", "the record is an array, expected an object"
    )


@pytest.mark.parametrize(("encoding", "configured"), [("utf-8-sig", "utf-8"), ("utf-16", "utf-16"),
                                                      ("latin-1", "latin-1")])
def test_encodings(fetch, tmp_path: Path, encoding: str, configured: str):
    records = [{"name": "DÉMO^ZOË"}]
    path = write(tmp_path / "b.json", json.dumps(records, ensure_ascii=False), encoding)
    assert [item.data for item in fetch({"file_path": str(path), "encoding": configured})] == records


def test_wrong_encoding_is_a_source_error(fetch, tmp_path: Path):
    path = write(tmp_path / "b.json", json.dumps([{"name": "ZOË"}], ensure_ascii=False), "latin-1")
    with pytest.raises(SourceError, match=r"b\.json'?: the file is not valid utf-8 .*config\.encoding"):
        fetch({"file_path": str(path)})


def test_a_glob_of_json_lines_files(fetch, tmp_path: Path):
    write(tmp_path / "2.jsonl", json.dumps(BOOKINGS[1]) + "\n")
    write(tmp_path / "1.jsonl", json.dumps(BOOKINGS[0]) + "\n")
    items = fetch({"file_path": str(tmp_path / "*.jsonl"), "format": "jsonl"})
    assert [item.location for item in items] == ["1.jsonl, line 1", "2.jsonl, line 1"]


def test_watch_for_changes(fetch, tmp_path: Path):
    path = write(tmp_path / "b.json", json.dumps(BOOKINGS))
    config = {"file_path": str(path), "watch_for_changes": "hash"}
    first = FetchState()
    assert len(fetch(config, state=first)) == 2
    second = FetchState(previous=first.saved)
    assert fetch(config, state=second) == [] and second.unchanged
    write(path, json.dumps(BOOKINGS[:1]))
    third = FetchState(previous=second.saved)
    assert len(fetch(config, state=third)) == 1 and not third.unchanged
