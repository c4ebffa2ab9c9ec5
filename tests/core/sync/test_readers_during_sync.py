"""Modalities querying while the same process syncs: every answer is the state before or after a sync.

8 C-FIND clients (real associations, our client) loop over entries that never change and over entries
every sync rewrites, while the process that serves them syncs a source whose rows change, go and come
back. Each answer must hold exactly one match for each of them: never an empty answer, never two.
"""

from __future__ import annotations

import random
import threading
from types import SimpleNamespace

from pynetdicom.sop_class import ModalityWorklistInformationFind

from pylantir.config import PylantirConfig
from pylantir.dicom import start_server
from pylantir.dicom.client import Peer, association, find_on, worklist_identifier
from pylantir.store import Database
from pylantir.sync.service import SyncService

ROWS = 3000
STABLE = 100  # entries 0..99 never change
SYNCS = 4  # at least; more until QUERIES queries ran
QUERIES = 2000  # a pynetdicom reactor race (see pylantir.dicom.client) lost about 1 answer in 1,000
READERS = 8
PENDING = (0xFF00, 0xFF01)


def generation_rows(kit: SimpleNamespace, generation: int) -> list[dict[str, str]]:
    """The source in one generation: a tenth of the rows changed, a fiftieth missing (back the next time);
    only entries with ``n % 50 < 10`` are ever missing."""
    rows = []
    for n in range(ROWS):
        if n >= STABLE and n % 50 == generation % 10:
            continue
        description = f"exam v{generation}" if n >= STABLE and n % 10 == generation % 10 else "Brain MRI"
        rows.append(kit.record(n, desc=description))
    return rows


def query_loop(port: int, seed: int, stop: threading.Event, wrong: list[str], counted: list[int]) -> None:
    """C-FIND by Patient ID (a stable entry, then a changing one) until ``stop``; note every bad answer."""
    choose = random.Random(seed)
    with association(Peer("127.0.0.1", port, called_ae="PYLANTIR", timeout=60),
                     ModalityWorklistInformationFind) as assoc:
        while not stop.is_set():
            # a stable entry, and one that some generations rewrite but none removes (n % 50 >= 10)
            changing = STABLE + 50 * choose.randrange((ROWS - STABLE) // 50) + choose.randrange(10, 50)
            for number in (choose.randrange(STABLE), changing):
                identifier = worklist_identifier()
                identifier.PatientID = f"P{number:05d}"
                responses = find_on(assoc, identifier)
                matches = [status for status, _ in responses if status in PENDING]
                counted.append(1)
                if len(matches) != 1 or responses[-1][0] != 0x0000:
                    wrong.append(f"P{number:05d}: {[hex(status) for status, _ in responses]}")


def test_readers_see_every_entry_through_syncs_in_one_process(memory, database: Database, kit) -> None:
    source = kit.source("ris", removal_guard_fraction=0.9)
    config = PylantirConfig(database_url=database.url.render_as_string(hide_password=False), data_sources=[source],
                            server={"ae_title": "PYLANTIR"})
    memory.rows["ris"] = generation_rows(kit, 1)
    service = SyncService(config, memory.registry, database)
    assert service.run_once()[0].inserted == len(memory.rows["ris"])
    server = start_server(config, database, host="127.0.0.1", port=0)
    stop, wrong, counted = threading.Event(), [], []
    readers = [threading.Thread(target=query_loop, args=(server.port, n, stop, wrong, counted))
               for n in range(READERS)]
    try:
        for reader in readers:
            reader.start()
        generation = 1
        while generation <= SYNCS or (len(counted) < QUERIES and generation < 50):
            generation += 1
            memory.rows["ris"] = generation_rows(kit, generation)
            (result,) = service.run_once()
            assert result.ok and result.updated > 0 and result.removed > 0 and result.inserted > 0, result
    finally:
        stop.set()
        for reader in readers:
            reader.join()
        service.stop(timeout=0)
        server.shutdown()
    assert len(counted) >= QUERIES, "too few queries ran during the syncs"
    assert wrong == []
