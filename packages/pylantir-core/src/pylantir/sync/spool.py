"""A temporary file holding a fetch's prepared rows until the write transaction reads them back.

Fetching never holds a database lock: rows go to the spool while the source is read, and the single
write transaction starts only once the fetch is complete. Memory stays at one batch.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterator

from pylantir.sync.rows import PreparedRow


class Spool:
    """Append rows, then read them back in batches of ``batch_size``."""

    def __init__(self, batch_size: int):
        self._file = tempfile.TemporaryFile()
        self._pending: list[tuple[object, ...]] = []
        self._batch_size = batch_size
        self.count = 0

    def add(self, row: PreparedRow) -> None:
        """Keep one row."""
        self._pending.append(tuple(row))
        self.count += 1
        if len(self._pending) >= self._batch_size:
            self._dump()

    def _dump(self) -> None:
        if self._pending:
            pickle.dump(self._pending, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self._pending = []

    def batches(self) -> Iterator[list[PreparedRow]]:
        """Every row kept, in order, in lists of at most ``batch_size``."""
        self._dump()
        self._file.seek(0)
        while True:
            try:
                batch = pickle.load(self._file)
            except EOFError:
                return
            yield [PreparedRow._make(row) for row in batch]

    def close(self) -> None:
        """Delete the file."""
        self._file.close()
