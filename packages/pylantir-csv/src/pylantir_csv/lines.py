"""Physical lines of a binary file, decoded a block at a time, so that a bad byte spoils one row, not the file."""

from __future__ import annotations

import io
from collections.abc import Iterator
from itertools import chain
from typing import IO

#: Bytes read and decoded at once (then extended to the end of the line it cuts).
BLOCK_BYTES = 1 << 18


class DecodedLines(Iterator[str]):
    """Iterate the decoded lines of ``handle`` (line endings kept, as :mod:`csv` wants them; only ``\\n``
    ends a line).

    The file is read in blocks of whole lines, each decoded at once; a block that is not valid in
    ``encoding`` is decoded line by line, and a line that is not valid is decoded with replacement
    characters and its number remembered in :attr:`undecodable` (messages name ``encoding_label``), so the
    reader can reject the row it belongs to. Each line reads as if decoded on its own (with ``utf-8-sig``,
    a byte-order mark at the start of any line is dropped). :attr:`number` is the number of the last line
    handed out by :meth:`__next__` (1-based); :meth:`rest` hands out the remaining lines at C speed,
    uncounted (a :func:`csv.reader` over it counts them in ``line_num``). Only for ASCII-compatible
    encodings.
    """

    def __init__(self, handle: IO[bytes], encoding: str, encoding_label: str | None = None):
        self._handle = handle
        self._encoding = encoding
        self._label = encoding_label or encoding
        self._sig = encoding.replace("_", "-").lower() == "utf-8-sig"
        self._read_lines = 0  # lines decoded so far (handed out or not)
        self._lines: Iterator[str] = chain.from_iterable(self._blocks())
        self._pending: str | None = None
        self.number = 0
        self.undecodable: dict[int, str] = {}

    def _blocks(self) -> Iterator[Iterator[str]]:
        while block := self._handle.read(BLOCK_BYTES):
            if not block.endswith(b"\n"):
                block += self._handle.readline()
            try:
                text = block.decode(self._encoding)
            except UnicodeDecodeError:
                yield iter([self._decode_line(line) for line in io.BytesIO(block)])
                continue
            if self._sig and "\n\ufeff" in text:
                text = text.replace("\n\ufeff", "\n")
            self._read_lines += block.count(b"\n") + (not block.endswith(b"\n"))
            yield io.StringIO(text, newline="\n")

    def _decode_line(self, raw: bytes) -> str:
        self._read_lines += 1
        try:
            return raw.decode(self._encoding)
        except UnicodeDecodeError as exc:
            self.undecodable[self._read_lines] = (
                f"byte 0x{raw[exc.start]:02x} at position {exc.start + 1} is not valid {self._label}"
            )
            return raw.decode(self._encoding, errors="replace")

    def peek(self) -> str | None:
        """The next line without consuming it, or None at the end of the file."""
        if self._pending is None:
            self._pending = next(self._lines, None)
        return self._pending

    def __next__(self) -> str:
        line = self.peek()
        if line is None:
            raise StopIteration
        self._pending = None
        self.number += 1
        return line

    def rest(self) -> Iterator[str]:
        """The lines not handed out yet (the peeked one first); :attr:`number` does not count them."""
        if self._pending is None:
            return self._lines
        pending, self._pending = self._pending, None
        return chain((pending,), self._lines)

    def problem_between(self, first: int, last: int) -> str | None:
        """Why a line in ``first..last`` could not be decoded, or None when all could (forgets them)."""
        if not self.undecodable:
            return None
        problems = [self.undecodable.pop(n) for n in range(first, last + 1) if n in self.undecodable]
        return problems[0] if problems else None
