"""Read one JSON or JSON Lines file into raw records, streaming, with errors that locate the problem."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from pylantir import Record, Rejected, SourceError
from pylantir.filesource import file_error, open_source_file, python_encoding
from pylantir_json.config import JsonConfig
from pylantir_json.stream import JsonStream, JsonSyntaxError

_KINDS = ((dict, "an object"), (list, "an array"), (str, "a string"), (bool, "a boolean"), (type(None), "null"))


def json_kind(value: Any) -> str:
    """``"an object"``, ``"an array"``, ``"a string"``, ``"a boolean"``, ``"null"`` or ``"a number"``."""
    return next((kind for cls, kind in _KINDS if isinstance(value, cls)), "a number")


class JsonFile:
    """One file of a ``json`` source: ``rows()`` yields a :class:`Record` or :class:`Rejected` per record."""

    def __init__(self, path: Path, config: JsonConfig, source_name: str):
        self.path = path
        self.config = config
        self.source_name = source_name

    def _error(self, message: str) -> SourceError:
        return file_error(self.source_name, self.path, message)

    def rows(self) -> Iterator[Record | Rejected]:
        """Stream the file's records; invalid JSON or undecodable text fails the whole fetch."""
        with open_source_file(self.path, self.source_name) as raw:
            text = io.TextIOWrapper(raw, encoding=python_encoding(self.config.encoding), newline="")
            try:
                if self.config.format == "jsonl":
                    yield from self._lines(text)
                else:
                    yield from self._array_records(text)
            except JsonSyntaxError as exc:
                raise self._error(f"invalid JSON at {exc}") from None
            except UnicodeDecodeError as exc:
                raise self._error(
                    f"the file is not valid {self.config.encoding} ({exc.reason}); set config.encoding"
                ) from None

    def _record(self, value: Any, location: str) -> Record | Rejected:
        if isinstance(value, dict):
            return Record(value, location)
        return Rejected(location, f"the record is {json_kind(value)}, expected an object")

    def _lines(self, text: IO[str]) -> Iterator[Record | Rejected]:
        for number, line in enumerate(text, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise JsonSyntaxError(exc.msg, number, exc.colno) from None
            yield self._record(value, f"{self.path.name}, line {number}")

    def _array_records(self, text: IO[str]) -> Iterator[Record | Rejected]:
        stream = JsonStream(text)
        keys = self.config.records_keys()
        if not keys and stream.peek() == "{":
            raise self._error("the file is a JSON object, not an array; set config.format to 'object' "
                              "and config.records_path to the key that holds the records")
        values = self._find(stream, keys, []) if keys else stream.items()
        for index, value in enumerate(values):
            yield self._record(value, f"{self.path.name}, index {index}")
        stream.expect_end()

    def _find(self, stream: JsonStream, keys: list[str], parents: list[str]) -> Iterator[Any]:
        """The values of the array at ``keys`` below the cursor; sibling values are read and dropped."""
        if stream.peek() is None:
            raise stream.error("expecting a value, found the end of the file")
        if not keys:
            if stream.peek() != "[":
                raise self._not_found(parents, f"is not an array ({_what(stream.peek())})")
            yield from stream.items()
            return
        if stream.peek() != "{":
            raise self._not_found(parents, f"is not an object ({_what(stream.peek())})")
        found = False
        for key in stream.members():
            if key == keys[0] and not found:
                found = True
                yield from self._find(stream, keys[1:], [*parents, key])
            else:
                stream.value()
        if not found:
            raise self._not_found([*parents, keys[0]], "does not exist")

    def _not_found(self, keys: list[str], problem: str) -> SourceError:
        where = f"'{'.'.join(keys)}'" if keys else "the top-level value"
        return self._error(f"config.records_path '{self.config.records_path}': {where} {problem}")


def _what(char: str | None) -> str:
    starts = {"[": "an array", "{": "an object", '"': "a string", "t": "a boolean", "f": "a boolean", "n": "null"}
    return starts.get(char or "", "a number")
