"""The spool gives back every row it kept, in order and as it was, whichever way a frame was written."""

from __future__ import annotations

import enum

from pylantir.sync.rows import PreparedRow
from pylantir.sync.spool import BUFFER_ROWS, Spool


class Level(enum.IntEnum):
    """An int subclass, which marshal does not write (its frame is pickled)."""

    HIGH = 3


def test_rows_come_back_in_order_and_as_they_were() -> None:
    rows = [PreparedRow(f"uid:{n}", f"line {n}", f"{n:032x}", (f"P{n}", None, 70.5, {"PatientState": ["a", n]},
                                                              Level.HIGH if n == BUFFER_ROWS + 7 else n))
            for n in range(3 * BUFFER_ROWS + 5)]
    spool = Spool(batch_size=250)
    try:
        for row in rows:
            spool.add(row)
        batches = list(spool.batches())
    finally:
        spool.close()
    assert [len(batch) for batch in batches] == [250, 250, 105]
    back = [row for batch in batches for row in batch]
    assert back == [row.insert_form() for row in rows]
    assert type(back[BUFFER_ROWS + 7][-1]) is Level
