"""Stream one CSV file into raw records: header checks, row filter, rejected rows with line numbers."""

from __future__ import annotations

import csv
import difflib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pylantir import Record, Rejected, SourceError
from pylantir.filesource import file_error, open_source_file, python_encoding
from pylantir_csv.config import DELIMITERS, CsvConfig
from pylantir_csv.lines import DecodedLines

_SNIFFED = (",", ";", "\t", "|")


def sniff_delimiter(header_line: str) -> str:
    """The candidate delimiter occurring most often in the header line (``,`` when none occurs)."""
    counts = {candidate: header_line.count(candidate) for candidate in _SNIFFED}
    best = max(_SNIFFED, key=lambda candidate: counts[candidate])
    return best if counts[best] else ","


class CsvFile:
    """One CSV file of a source: ``rows()`` yields a :class:`Record` or :class:`Rejected` per data row."""

    def __init__(self, path: Path, config: CsvConfig, fields: frozenset[str], source_name: str):
        self.path = path
        self.config = config
        self.fields = fields
        self.source_name = source_name

    def _error(self, message: str) -> SourceError:
        return file_error(self.source_name, self.path, message)

    def _location(self, line: int) -> str:
        return f"{self.path.name}, line {line}"

    def rows(self) -> Iterator[Record | Rejected]:
        """Read the file row by row (never whole), checking the header first."""
        encoding = python_encoding(self.config.encoding)
        with open_source_file(self.path, self.source_name) as handle:
            lines = DecodedLines(handle, encoding, self.config.encoding)
            for _ in range(self.config.skip_rows):
                next(lines, None)
            while (peeked := lines.peek()) is not None and not peeked.strip():
                next(lines)
            if peeked is None:
                raise self._error(
                    f"no header row (the file has {lines.number} line(s)"
                    f"{f', skip_rows is {self.config.skip_rows}' if self.config.skip_rows else ''})"
                )
            delimiter = self.config.delimiter_char() or sniff_delimiter(peeked)
            before = lines.number  # lines before the header row; the reader's line_num counts from there
            reader = csv.reader(lines.rest(), delimiter=delimiter)
            row = next(reader)
            header = self._header(row, lines, before + reader.line_num, delimiter)
            yield from self._records(reader, lines, before, header)

    def _header(self, row: list[str], lines: DecodedLines, last: int, delimiter: str) -> list[str]:
        problem = lines.problem_between(1, last)
        if problem:
            raise self._error(
                f"the header row (line {last}) cannot be decoded: {problem}; "
                f"set the source's config.encoding to the file's encoding"
            )
        header = [name.strip() for name in row]
        seen: set[str] = set()
        for name in header:
            if name and name in seen:
                raise self._error(f"column '{name}' appears twice in the header row")
            seen.add(name)
        wanted = sorted(self.fields | ({self.config.filter.column} if self.config.filter else set()))
        missing = [name for name in wanted if name not in seen]
        if missing:
            raise self._error(self._missing_message(missing, header, delimiter))
        return header

    def _missing_message(self, missing: list[str], header: list[str], delimiter: str) -> str:
        hints = []
        for name in missing:
            guess = difflib.get_close_matches(name, header, n=1)
            hints.append(f"'{name}'" + (f" (did you mean '{guess[0]}'?)" if guess else ""))
        shown = next(key for key, char in DELIMITERS.items() if char == delimiter)
        several = len(missing) > 1
        return (
            f"{'columns' if several else 'column'} {', '.join(hints)} used by the source "
            f"{'are' if several else 'is'} not in the header row "
            f"({len(header)} column(s) split on {shown!r}); check the header row, "
            "the field_mapping, config.filter, config.delimiter and config.skip_rows"
        )

    def _records(
        self, reader: Any, lines: DecodedLines, before: int, header: list[str]
    ) -> Iterator[Record | Rejected]:
        """The data rows of ``reader`` (a :func:`csv.reader` whose line 1 is line ``before + 1`` of the file)."""
        row_filter = self.config.filter
        filter_index = header.index(row_filter.column) if row_filter else -1
        name = self.path.name
        width = len(header)
        undecodable = lines.undecodable  # empty while every line decoded: no line to look up
        while True:
            first = before + reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Rejected(self._location(first), f"unreadable CSV row: {exc}")
                continue
            problem = lines.problem_between(first, before + reader.line_num) if undecodable else None
            if not row and not problem:
                continue
            location = f"{name}, line {first}"
            if problem:
                yield Rejected(location, f"{problem}; check config.encoding")
            elif len(row) != width:
                yield Rejected(location, f"{len(row)} field(s), the header row has {width}")
            elif row_filter is None or row_filter.accepts(row[filter_index]):
                yield Record(dict(zip(header, row)), location)  # noqa: B905 - as long as the header (checked)
