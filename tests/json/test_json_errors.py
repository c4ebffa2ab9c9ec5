"""Bad JSON input: a SourceError naming the file, with the line and column of invalid JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from pylantir import SourceError


def fails(fetch, path: Path, text: str, **config) -> str:
    path.write_text(text)
    with pytest.raises(SourceError) as raised:
        fetch({"file_path": str(path)} | config)
    message = str(raised.value)
    assert message.startswith("source 'site_json': ")
    return message


def test_missing_file(fetch, tmp_path: Path):
    with pytest.raises(SourceError, match="file '.*nothing.json' does not exist"):
        fetch({"file_path": str(tmp_path / "nothing.json")})


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('[{"a": 1},\n {"b": tru}]', "line 2, column 11"),
        ('[{"a": 1}\n {"b": 2}]', "line 2, column 2"),
        ('[{"a": 1},]', "line 1, column 11"),
        ('[{"a": "unterminated}]', "line 1, column 23"),
        ('[{"a": 1}', "line 1, column 10"),
        ('[{"a": 1}] [', "line 1, column 12"),
        ("", "line 1, column 1"),
    ],
)
def test_invalid_json_array_names_line_and_column(fetch, tmp_path: Path, text: str, where: str):
    """Where the parser stops, then what ijson says is wrong there (its wording, which depends on its backend)."""
    path = tmp_path / "bad.json"
    message = fails(fetch, path, text)
    assert message.startswith(f"source 'site_json': '{path}': invalid JSON at {where}: ")
    assert len(message.split(f"{where}: ", 1)[1]) > 5


def test_a_top_level_value_that_is_no_array(fetch, tmp_path: Path):
    message = fails(fetch, tmp_path / "s.json", '"just a string"')
    assert message.endswith("the top-level JSON value is a string, not an array of records")


def test_invalid_json_line(fetch, tmp_path: Path):
    path = tmp_path / "bad.jsonl"
    message = fails(fetch, path, '{"a": 1}\n{"a": 2,}\n', format="jsonl")
    assert message.endswith("invalid JSON at line 2, column 9: Expecting property name enclosed in double quotes")


def test_an_object_where_an_array_is_expected_hints_at_format_object(fetch, tmp_path: Path):
    message = fails(fetch, tmp_path / "o.json", '{"items": []}')
    assert "the file is a JSON object, not an array; set config.format to 'object'" in message


@pytest.mark.parametrize(
    ("records_path", "problem"),
    [
        ("data.itemz", "'data.itemz' does not exist"),
        ("data.count", "'data.count' is not an array (a number)"),
        ("data.count.x", "'data.count' is not an object (a number)"),
        ("nothing", "'nothing' does not exist"),
    ],
)
def test_records_path_problems(fetch, tmp_path: Path, records_path: str, problem: str):
    text = '{"data": {"count": 2, "items": [{"a": 1}]}}'
    message = fails(fetch, tmp_path / "o.json", text, format="object", records_path=records_path)
    assert message.endswith(f"config.records_path '{records_path}': {problem}")


def test_records_path_into_an_array_file(fetch, tmp_path: Path):
    message = fails(fetch, tmp_path / "a.json", "[]", format="object", records_path="items")
    assert message.endswith("config.records_path 'items': the top-level value is not an object (an array)")


def test_a_file_ending_inside_the_records_path(fetch, tmp_path: Path):
    message = fails(fetch, tmp_path / "o.json", '{"data": ', format="object", records_path="data")
    assert "invalid JSON at line 1, column 10: " in message
