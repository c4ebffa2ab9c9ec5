"""A temporary file holding a fetch's prepared rows until the write transaction reads them back.

Fetching never holds a database lock: rows go to the spool while the source is read, and the single
write transaction starts only once the fetch is complete. Memory stays at :data:`BUFFER_ROWS` rows
while fetching, and at one batch while writing. Rows are kept in insert form (flat tuples of
:data:`~pylantir.sync.rows.INSERT_COLUMNS`), so reading them back builds no object per row.

The file holds frames: a header (:data:`_HEADER`: the length, and whether :mod:`marshal` or :mod:`pickle`
wrote it), then the rows of one buffer. :mod:`marshal` writes the values prepared rows hold (text, numbers,
``None``, the lists and dicts of extras) in less than half of pickle's time and reads them back faster; it
is only read back by the process that wrote it, as here. A buffer holding another type (a plugin's ``int``
subclass kept as an integer value) is pickled.
"""

from __future__ import annotations

import marshal
import pickle
import struct
import tempfile
from collections.abc import Iterator

from pylantir.sync.rows import PreparedRow

#: Rows held in memory before they go to the file (small: every syncing source holds this many).
BUFFER_ROWS = 200
#: A frame's header: the length of what follows and whether it is pickled.
_HEADER = struct.Struct("<Q?")


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
            try:
                data, pickled = marshal.dumps(self._pending), False
            except ValueError:  # a type marshal does not write
                data, pickled = pickle.dumps(self._pending, protocol=pickle.HIGHEST_PROTOCOL), True
            self._file.write(_HEADER.pack(len(data), pickled))
            self._file.write(data)
            self._pending = []

    def batches(self) -> Iterator[list[tuple[object, ...]]]:
        """Every row kept, in order and in insert form, in lists of at most ``batch_size``."""
        self._dump()
        self._file.seek(0)
        batch: list[tuple[object, ...]] = []
        while header := self._file.read(_HEADER.size):
            size, pickled = _HEADER.unpack(header)
            data = self._file.read(size)
            batch.extend(pickle.loads(data) if pickled else marshal.loads(data))
            if len(batch) >= self._batch_size:
                yield batch[: self._batch_size]
                batch = batch[self._batch_size :]
        if batch:
            yield batch

    def close(self) -> None:
        """Delete the file."""
        self._file.close()
