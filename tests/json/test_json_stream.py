"""JsonStream reads values across chunk boundaries exactly as json.loads does, and places errors the same."""

from __future__ import annotations

import io
import json

import pytest

from pylantir_json.stream import JsonStream, JsonSyntaxError

TRICKY = [
    {"s": "a \\\" quote, a \\\\ backslash, a \\u00e9 escape, a ] and a }", "n": -12345.678e-3, "big": 10**30},
    {"unicode": "ÉMILIE 日本", "nested": {"list": [1, [2, [3]]], "t": True, "f": False, "z": None}},
    12345678901234567890,
    "x" * 100,
    [],
    {},
]


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 64, 1 << 16])
def test_values_across_chunk_boundaries(chunk_size: int):
    text = json.dumps(TRICKY, ensure_ascii=False, indent=1)
    stream = JsonStream(io.StringIO(text), chunk_size=chunk_size)
    assert list(stream.items()) == json.loads(text)
    stream.expect_end()


@pytest.mark.parametrize("chunk_size", [1, 5, 1 << 16])
@pytest.mark.parametrize(
    "text",
    ['[\n  {"a": 1},\n  {"b": [1, 2,, 3]}\n]', '[{"a": "\\x"}]', '[{"a": 1, "b" 2}]', '[1, 2, nul]', '[\n\n  tru'],
)
def test_errors_are_placed_where_json_loads_places_them(chunk_size: int, text: str):
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    stream = JsonStream(io.StringIO(text), chunk_size=chunk_size)
    with pytest.raises(JsonSyntaxError) as raised:
        list(stream.items())
    assert (raised.value.line, raised.value.column) == (expected.value.lineno, expected.value.colno)


def test_the_buffer_stays_near_one_record():
    record = json.dumps({"id": "P" * 50, "pad": "x" * 200})
    text = "[" + ",\n".join([record] * 2000) + "]"
    handle = io.StringIO(text)
    stream = JsonStream(handle, chunk_size=1024)
    largest = 0
    for _ in stream.items():
        largest = max(largest, len(stream._buffer))
    assert largest < 4 * 1024 < len(text) // 100
