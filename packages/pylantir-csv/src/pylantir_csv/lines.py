"""Physical lines of a binary file, decoded one at a time so a bad byte spoils one row, not the file."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO


class DecodedLines(Iterator[str]):
    """Iterate the decoded lines of ``handle`` (line endings kept, as :mod:`csv` wants them).

    A line that is not valid in ``encoding`` is decoded with replacement characters and its number is
    remembered in :attr:`undecodable` (messages name ``encoding_label``), so the reader can reject the
    row it belongs to. :attr:`number` is the number of the last line handed out (1-based). Only for
    ASCII-compatible encodings.
    """

    def __init__(self, handle: IO[bytes], encoding: str, encoding_label: str | None = None):
        self._handle = handle
        self._encoding = encoding
        self._label = encoding_label or encoding
        self._pending: str | None = None
        self.number = 0
        self.undecodable: dict[int, str] = {}

    def _read(self) -> str | None:
        raw = self._handle.readline()
        if not raw:
            return None
        try:
            return raw.decode(self._encoding)
        except UnicodeDecodeError as exc:
            line = self.number + 1
            self.undecodable[line] = (
                f"byte 0x{raw[exc.start]:02x} at position {exc.start + 1} is not valid {self._label}"
            )
            return raw.decode(self._encoding, errors="replace")

    def peek(self) -> str | None:
        """The next line without consuming it, or None at the end of the file."""
        if self._pending is None:
            self._pending = self._read()
        return self._pending

    def __next__(self) -> str:
        line = self.peek()
        if line is None:
            raise StopIteration
        self._pending = None
        self.number += 1
        return line

    def problem_between(self, first: int, last: int) -> str | None:
        """Why a line in ``first..last`` could not be decoded, or None when all could (forgets them)."""
        problems = [self.undecodable.pop(n) for n in range(first, last + 1) if n in self.undecodable]
        return problems[0] if problems else None
