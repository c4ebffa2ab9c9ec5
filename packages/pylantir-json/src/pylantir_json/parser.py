"""Incremental JSON reading with ijson: values one at a time from a text stream, errors with line and column.

ijson (its C backend ``yajl2_c`` when the wheel has it, else its pure-Python backend; :data:`BACKEND`
says which) reads UTF-8 bytes in chunks of 64 KiB and builds one value at a time, so a large array of
records is read in about the size of one record plus one chunk, never the whole file. :class:`JsonText`
feeds it the file's text (any encoding, re-encoded to UTF-8) and adds what ijson does not give:

- the line and column of a syntax error. ijson names no position, so after a failure the text is read
  once more, quickly up to the chunk that failed and then character by character, and the place where the
  parser stops is the error's place;
- numbers as :func:`json.loads` gives them. The records pass asks ijson for floats (``use_float``), which
  is as fast as the standard library but refuses integers beyond 64 bits and doubles beyond their range.
  Any error of that fast pass hands over to an exact pass that reads every number as an int or a
  :class:`~decimal.Decimal` (turned into floats by :func:`as_floats`) and goes on after the records
  already given; only the exact pass's error, if any, is reported.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any, TypeVar

import ijson
from ijson.backends.python import UnexpectedSymbol

#: The ijson backend in use: ``"yajl2_c"`` (C, fast) or ``"python"`` when ijson was installed without it.
BACKEND: str = ijson.backend_name

_CHUNK = 1 << 16
_SYNTAX_ERRORS = (ijson.JSONError, json.JSONDecodeError)  # the latter: the python backend's bad escapes
_CONTAINERS = (dict, list, Decimal)

T = TypeVar("T")


class JsonSyntaxError(ValueError):
    """Invalid JSON, with the 1-based ``line`` and ``column`` where the parser stopped."""

    def __init__(self, message: str, line: int, column: int):
        super().__init__(f"line {line}, column {column}: {message}")
        self.line = line
        self.column = column


class _Utf8Feed:
    """What ijson reads: the text stream's characters as UTF-8, remembering where the last chunk began."""

    def __init__(self, text: IO[str]):
        self._text = text
        self.position = 0  # characters handed out so far
        self.chunk_start = 0  # where the chunk handed out last begins
        self.decode_error: UnicodeDecodeError | None = None

    def read(self, size: int) -> bytes:
        if self.decode_error is not None:
            return b""
        try:
            chunk = self._text.read(size)
        except UnicodeDecodeError as exc:  # kept out of ijson (its python backend would swallow it)
            self.decode_error = exc
            return b""  # ijson sees the text end here; JsonText raises the decode error instead
        self.chunk_start, self.position = self.position, self.position + len(chunk)
        return chunk.encode("utf-8")


class JsonText:
    """One JSON document on a seekable text stream, read with ijson in passes from its start."""

    def __init__(self, text: IO[str]):
        self._text = text
        self._feed = _Utf8Feed(text)

    def events(self) -> Iterator[tuple[str, Any]]:
        """ijson's basic events from the start: ``("start_map", None)``, ``("map_key", "data")``, ..."""
        return self._located(ijson.basic_parse(self._restart()))

    def items(self, prefix: str) -> Iterator[Any]:
        """The values at ijson ``prefix`` (``"item"``: the top-level array's), numbers as json.loads gives."""
        given = 0
        try:
            for value in ijson.items(self._restart(), prefix, use_float=True):
                yield value
                given += 1
        except _SYNTAX_ERRORS:  # perhaps a number out of the fast pass's range: the exact pass decides
            exact = map(as_floats, self._located(ijson.items(self._restart(), prefix)))
            yield from itertools.islice(exact, given, None)
        else:
            self._raise_decode_error()

    def _restart(self) -> _Utf8Feed:
        self._text.seek(0)
        self._feed = _Utf8Feed(self._text)
        return self._feed

    def _located(self, values: Iterator[T]) -> Iterator[T]:
        """``values``; text that cannot be decoded raises its UnicodeDecodeError, a syntax error its place."""
        try:
            yield from values
        except _SYNTAX_ERRORS as exc:
            self._raise_decode_error()
            line, column = self._where_parsing_stops()
            raise JsonSyntaxError(_reason(exc), line, column) from None
        self._raise_decode_error()

    def _raise_decode_error(self) -> None:
        if self._feed.decode_error is not None:
            raise self._feed.decode_error

    def _where_parsing_stops(self) -> tuple[int, int]:
        """Parse again: up to the failed chunk in large pieces, then character by character until it fails."""
        failed_at, failed_end = self._feed.chunk_start, self._feed.position
        self._text.seek(0)
        parser = ijson.basic_parse_coro(_discard())
        line, column = 1, 1
        try:
            for piece in _pieces(self._text, failed_at, failed_end):
                parser.send(piece.encode("utf-8"))
                newlines = piece.count("\n")
                line += newlines
                column = len(piece) - piece.rfind("\n") if newlines else column + len(piece)
            parser.close()
        except _SYNTAX_ERRORS:
            pass
        return line, column


def _pieces(text: IO[str], fast_until: int, slow_until: int) -> Iterator[str]:
    """The text's first ``slow_until`` characters: large pieces up to ``fast_until``, then one at a time."""
    remaining = fast_until
    while remaining > 0 and (piece := text.read(min(remaining, _CHUNK))):
        remaining -= len(piece)
        yield piece
    yield from text.read(slow_until - fast_until)


@ijson.coroutine
def _discard() -> Iterator[None]:
    """A coroutine target that drops every event sent to it."""
    while True:
        yield


def _reason(exc: Exception) -> str:
    """What the parser says is wrong, without quoting the file (which may hold patient data)."""
    if isinstance(exc, json.JSONDecodeError):
        return exc.msg
    if isinstance(exc, UnexpectedSymbol):
        return "unexpected symbol"
    first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    # yajl's first line is a fixed text (its context lines quote the file); the python backend's
    # messages quote the offending symbol after ": ".
    return first_line.partition(": ")[0] if BACKEND == "python" else first_line


def as_floats(value: Any) -> Any:
    """``value`` with every :class:`~decimal.Decimal` in it made a float (changed in place where nested)."""
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(item) in _CONTAINERS:
                value[key] = as_floats(item)
    elif kind is list:
        for index, item in enumerate(value):
            if type(item) in _CONTAINERS:
                value[index] = as_floats(item)
    elif kind is Decimal:
        return float(value)
    return value
