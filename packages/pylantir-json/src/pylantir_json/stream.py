"""Incremental JSON reading with the standard library: one value at a time from a text stream.

:class:`JsonStream` keeps a buffer of a few chunks and decodes one value at a time with
:meth:`json.JSONDecoder.raw_decode`, so a large array of records is read in about the size of one
record plus one chunk, never the whole file. Syntax errors carry the line and column in the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

_WHITESPACE = " \t\n\r"
_CHUNK = 1 << 16
# A decode error this close to the end of the buffer may just mean the value goes on in the next chunk
# ("tru" of "true", "\u12" of an escape, a missing ',' after the last complete value).
_TRUNCATION_MARGIN = 16


class JsonSyntaxError(ValueError):
    """Invalid JSON, with the 1-based ``line`` and ``column`` where the decoder stopped."""

    def __init__(self, message: str, line: int, column: int):
        super().__init__(f"line {line}, column {column}: {message}")
        self.line = line
        self.column = column


class JsonStream:
    """A cursor over the JSON text of ``handle``, read chunk by chunk."""

    def __init__(self, handle: IO[str], chunk_size: int = _CHUNK):
        self._handle = handle
        self._chunk_size = chunk_size
        self._decoder = json.JSONDecoder()
        self._buffer = ""
        self._pos = 0
        self._eof = False
        self._dropped_lines = 0  # newlines in the text already dropped from the buffer
        self._dropped_column = 0  # characters after the last of them

    def _fill(self) -> bool:
        """Append the next chunk (dropping consumed text first); False at the end of the file."""
        if self._eof:
            return False
        chunk = self._handle.read(max(self._chunk_size, len(self._buffer) - self._pos))
        if not chunk:
            self._eof = True
            return False
        consumed = self._buffer[: self._pos]
        newlines = consumed.count("\n")
        if newlines:
            self._dropped_lines += newlines
            self._dropped_column = len(consumed) - consumed.rfind("\n") - 1
        else:
            self._dropped_column += len(consumed)
        self._buffer = self._buffer[self._pos :] + chunk
        self._pos = 0
        return True

    def error(self, message: str, pos: int | None = None) -> JsonSyntaxError:
        """A :class:`JsonSyntaxError` at buffer position ``pos`` (default: the cursor)."""
        pos = self._pos if pos is None else pos
        newlines = self._buffer.count("\n", 0, pos)
        if newlines:
            column = pos - self._buffer.rfind("\n", 0, pos)
        else:
            column = self._dropped_column + pos + 1
        return JsonSyntaxError(message, self._dropped_lines + newlines + 1, column)

    def peek(self) -> str | None:
        """The next character that is not whitespace (not consumed), or None at the end of the file."""
        while True:
            while self._pos < len(self._buffer) and self._buffer[self._pos] in _WHITESPACE:
                self._pos += 1
            if self._pos < len(self._buffer):
                return self._buffer[self._pos]
            if not self._fill():
                return None

    def expect(self, char: str, what: str) -> None:
        """Consume ``char`` (after whitespace) or raise a syntax error saying ``what`` was expected."""
        found = self.peek()
        if found != char:
            raise self.error(f"expecting {what}, found {_describe_char(found)}")
        self._pos += 1

    def accept(self, char: str) -> bool:
        """Consume ``char`` if it is the next character that is not whitespace."""
        if self.peek() == char:
            self._pos += 1
            return True
        return False

    def value(self) -> Any:
        """Decode and consume the next JSON value."""
        self.peek()
        while True:
            try:
                result, end = self._decoder.raw_decode(self._buffer, self._pos)
            except json.JSONDecodeError as exc:
                truncated = exc.pos >= len(self._buffer) - _TRUNCATION_MARGIN or exc.msg.startswith(
                    "Unterminated string"
                )
                if truncated and self._fill():
                    continue
                raise self.error(exc.msg, exc.pos) from None
            if end == len(self._buffer) and self._fill():
                continue  # a number at the end of the buffer may go on in the next chunk
            self._pos = end
            return result

    def items(self) -> Iterator[Any]:
        """Consume a JSON array (the cursor is before its ``[``), yielding its values one at a time."""
        self.expect("[", "'['")
        if self.accept("]"):
            return
        while True:
            yield self.value()
            if self.accept("]"):
                return
            self.expect(",", "',' or ']'")

    def members(self) -> Iterator[str]:
        """Consume a JSON object's punctuation, yielding each key; the caller consumes each value."""
        self.expect("{", "'{'")
        if self.accept("}"):
            return
        while True:
            if self.peek() != '"':
                raise self.error(f"expecting a property name in double quotes, found {_describe_char(self.peek())}")
            key = self.value()
            self.expect(":", "':'")
            yield key
            if self.accept("}"):
                return
            self.expect(",", "',' or '}'")

    def expect_end(self) -> None:
        """Raise a syntax error unless only whitespace is left."""
        if self.peek() is not None:
            raise self.error("extra data after the JSON value")


def _describe_char(char: str | None) -> str:
    return "the end of the file" if char is None else repr(char)
