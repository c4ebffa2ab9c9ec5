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
from pylantir_json.parser import JsonSyntaxError, JsonText

_KINDS = ((dict, "an object"), (list, "an array"), (str, "a string"), (bool, "a boolean"), (type(None), "null"))
_EVENT_KINDS = {"start_map": "an object", "start_array": "an array", "string": "a string", "boolean": "a boolean",
                "null": "null"}


def json_kind(value: Any) -> str:
    """``"an object"``, ``"an array"``, ``"a string"``, ``"a boolean"``, ``"null"`` or ``"a number"``."""
    return next((kind for cls, kind in _KINDS if isinstance(value, cls)), "a number")


def event_kind(event: str) -> str:
    """What the value an ijson event starts is, in the words of :func:`json_kind` (numbers: "number" events)."""
    return _EVENT_KINDS.get(event, "a number")


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
        document = JsonText(text)
        keys = self.config.records_keys()
        self._find_records(document, keys)
        prefix = ".".join([*keys, "item"])
        for index, value in enumerate(document.items(prefix)):
            yield self._record(value, f"{self.path.name}, index {index}")

    def _find_records(self, document: JsonText, keys: list[str]) -> None:
        """Read up to the start of the records array at ``keys``; a SourceError saying why it is not there.

        Keys are matched exactly (not through ijson's dotted prefixes), and the first of two equal keys wins.
        """
        depth = 0  # containers open around the current event
        entered = 0  # maps on the way to the records entered so far; the one at depth `route_depth` is open
        route_depth = 0
        on_route = True  # the next value is the one at keys[:entered] (at first: the top-level value)
        for event, value in document.events():
            if event == "map_key":
                on_route = depth == route_depth and value == keys[entered - 1]
                continue
            if event in ("end_map", "end_array"):
                if event == "end_map" and depth == route_depth:
                    raise self._not_found(keys[:entered], "does not exist")
                depth -= 1
                continue
            if on_route:
                if entered == len(keys):
                    if event == "start_array":
                        return
                    raise self._not_records(keys, event_kind(event))
                if event != "start_map":
                    raise self._not_found(keys[:entered], f"is not an object ({event_kind(event)})")
                entered += 1
                route_depth = depth + 1
            on_route = False
            if event in ("start_map", "start_array"):
                depth += 1

    def _not_records(self, keys: list[str], kind: str) -> SourceError:
        if keys:
            return self._not_found(keys, f"is not an array ({kind})")
        if kind == "an object":
            return self._error("the file is a JSON object, not an array; set config.format to 'object' "
                               "and config.records_path to the key that holds the records")
        return self._error(f"the top-level JSON value is {kind}, not an array of records")

    def _not_found(self, keys: list[str], problem: str) -> SourceError:
        where = f"'{'.'.join(keys)}'" if keys else "the top-level value"
        return self._error(f"config.records_path '{self.config.records_path}': {where} {problem}")
