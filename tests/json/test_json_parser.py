"""JsonText (ijson underneath) gives the values json.loads gives, places syntax errors, and reads in bounded memory."""

from __future__ import annotations

import io
import json
import tracemalloc

import pytest

from pylantir_json.parser import BACKEND, JsonSyntaxError, JsonText

TRICKY = [
    {"s": "a \\\" quote, a \\\\ backslash, a \\u00e9 escape, a ] and a }", "n": -12345.678e-3, "big": 10**30},
    {"unicode": "ÉMILIE 日本", "nested": {"list": [1, [2.5, [3e2]]], "t": True, "f": False, "z": None}},
    12345678901234567890,
    "x" * 100,
    [],
    {},
    1e300,
]


def items(text: str, prefix: str = "item") -> list:
    return list(JsonText(io.StringIO(text)).items(prefix))


@pytest.mark.parametrize(
    "values",
    [
        TRICKY * 1000,  # a 100-bit integer in the first record: the exact pass from the start
        TRICKY[1:3] * 2000 + TRICKY,  # ... in the last ones: the exact pass goes on after the records given
        TRICKY[1:2] * 3000 + [12.5, -0.0, 1e-300, 2**63 - 1],  # within 64 bits and doubles: the fast pass only
    ],
    ids=["exact", "fast-then-exact", "fast"],
)
def test_values_are_what_json_loads_gives_across_chunks(values: list):
    text = json.dumps(values, ensure_ascii=False, indent=1)  # about 0.5 MB: many 64 KiB chunks
    parsed = items(text)
    assert parsed == json.loads(text)
    assert json.dumps(parsed) == json.dumps(json.loads(text))  # floats, not Decimals; big integers kept


def test_values_below_a_prefix():
    assert items('{"data": {"items": [{"a": 1.5}], "other": [9]}}', "data.items.item") == [{"a": 1.5}]


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ('[\n  {"a": 1},\n  {"b": [1, 2,, 3]}\n]', 3, 15),
        ('[{"a": 1}\n {"b": 2}]', 2, 2),
        ('[{"a": 1},]', 1, 11),
        ('[{"a": 1}] [', 1, 12),
        ('[{"a": 1}', 1, 10),
        ("", 1, 1),
        ('["éé日本", {]', 1, 11),  # columns count characters, not UTF-8 bytes
    ],
)
def test_syntax_errors_give_the_line_and_column_where_parsing_stops(text: str, line: int, column: int):
    with pytest.raises(JsonSyntaxError) as raised:
        items(text)
    assert (raised.value.line, raised.value.column) == (line, column)
    assert str(raised.value).startswith(f"line {line}, column {column}: ")


def test_an_error_far_into_a_large_file_is_placed():
    good = json.dumps({"id": "P" * 50, "pad": "é" * 200})
    text = "[" + ",\n".join([good] * 5000) + ',\n{"id": "P1" "x": 1}]'  # about 2 MB, the error on line 5001
    with pytest.raises(JsonSyntaxError) as raised:
        items(text)
    assert (raised.value.line, raised.value.column) == (5001, 15)  # the end of the unexpected string


def test_error_messages_quote_nothing_from_the_file():
    with pytest.raises(JsonSyntaxError) as raised:
        items('[{"name": DEMO^PATIENT, "id": "P0001"}]')
    assert "DEMO" not in str(raised.value) and "P0001" not in str(raised.value)


@pytest.mark.skipif(BACKEND != "yajl2_c", reason=f"the bound is yajl2_c's; ijson runs its {BACKEND} backend here")
def test_memory_stays_near_one_chunk_whatever_the_file_size():
    record = json.dumps({"id": "P" * 50, "pad": "x" * 200, "weight": 71.5})
    text = "[" + ",\n".join([record] * 20000) + "]"  # about 5 MiB
    handle = io.StringIO(text)
    tracemalloc.start()
    try:
        count = sum(1 for _ in JsonText(handle).items("item"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 20000
    assert peak < 1 << 20 < len(text) // 5
