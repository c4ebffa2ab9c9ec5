"""A temporary file holding a fetch's prepared rows until the write transaction reads them back.

Fetching never holds a database lock: rows go to the spool while the source is read, and the single
write transaction starts only once the fetch is complete. Memory stays at :data:`BUFFER_ROWS` rows
while fetching, and at one batch while writing. Rows are kept in insert form (flat tuples of
:data:`~pylantir.sync.rows.INSERT_COLUMNS`), so reading them back builds no object per row.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterator

from pylantir.sync.rows import PreparedRow

#: Rows held in memory before they go to the file (small: every syncing source holds this many).
BUFFER_ROWS = 200


class Spool:
    """Append rows, then read them back in batches of ``batch_size``."""

    def __init__(self, batch_size: int):
        self._file = tempfile.TemporaryFile()
        self._pending: list[tuple[object, ...]] = []
        self._batch_size = batch_size
        self.count = 0

    def add(self, row: PreparedRow) -> None:
        """Keep one row."""
        self._pending.append(row.insert_form())
        self.count += 1
        if len(self._pending) >= BUFFER_ROWS:
            self._dump()

    def _dump(self) -> None:
        if self._pending:
            pickle.dump(self._pending, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self._pending = []

    def batches(self) -> Iterator[list[tuple[object, ...]]]:
        """Every row kept, in order and in insert form, in lists of at most ``batch_size``."""
        self._dump()
        self._file.seek(0)
        batch: list[tuple[object, ...]] = []
        while True:
            try:
                batch.extend(pickle.load(self._file))
            except EOFError:
                break
            if len(batch) >= self._batch_size:
                yield batch[: self._batch_size]
                batch = batch[self._batch_size :]
        if batch:
            yield batch

    def close(self) -> None:
        """Delete the file."""
        self._file.close()
