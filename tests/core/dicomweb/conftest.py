"""Fixtures for the DICOMweb tests: a real ``pylantir run`` answering DICOM and HTTP on loopback, over a site
whose worklist holds the C-FIND conformance tests' items, with a read token and a write token."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from pylantir.dicom.client import Peer
from pylantir.store import Database

from ..dicom.conftest import _item
from ..dicom.test_find_matching import WORKLIST
from ..http.conftest import Site, running

SEARCH = "/dicomweb/modality-scheduled-procedure-steps"


@dataclass
class DicomWebSite:
    """A running site: its HTTP clients (a read token, a write token named ``scanner`` and a write token named
    ``editor``), its DICOM peer and its database."""

    site: Site
    reader: httpx.Client
    writer: httpx.Client
    editor: httpx.Client
    peer: Peer
    database: Database

    def search(self, *parameters: tuple[str, str], **headers: str) -> httpx.Response:
        """``GET /dicomweb/modality-scheduled-procedure-steps`` with ``parameters`` (name, value pairs)."""
        return self.reader.get(SEARCH, params=list(parameters), headers=headers)


def start_site(site: Site, items: list[dict[str, Any]]) -> Iterator[DicomWebSite]:
    """Store ``items`` in ``site``'s database, make its tokens, and run it (yielded while it runs)."""
    database = Database.open(site.database_url)
    with database.session() as session:
        session.add_all([_item(**dict(values)) for values in items])
    tokens = [site.token("viewer", "read"), site.token("scanner", "write"), site.token("editor", "write")]
    try:
        with running(site), site.client(tokens[0]) as reader, site.client(tokens[1]) as writer, \
                site.client(tokens[2]) as editor:
            yield DicomWebSite(site, reader, writer, editor, Peer("127.0.0.1", site.dicom_port), database)
    finally:
        database.close()


@pytest.fixture(scope="module")
def worklist_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DicomWebSite]:
    """One running site per module, its worklist the C-FIND matching tests' (tests only read it)."""
    directory = tmp_path_factory.mktemp("dicomweb")
    yield from start_site(Site(directory, f"sqlite:///{directory / 'site.sqlite'}"), WORKLIST)


#: The MPPS tests' items: one scheduled step per test (patients M1, M2, ...), so that they share one site.
MPPS_ITEMS = [{"patient_id": f"M{n}", "study_instance_uid": f"1.2.826.0.1.3680043.10.999.79.{n}"} for n in range(1, 9)]


@pytest.fixture(scope="module")
def mpps_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DicomWebSite]:
    """One running site per module for the MPPS tests (each reports on items and UIDs of its own), whose
    ``http.dicomweb.mpps_clients`` lists the scanner's token only."""
    directory = tmp_path_factory.mktemp("dicomweb-mpps")
    site = Site(directory, f"sqlite:///{directory / 'site.sqlite'}",
                settings={"http": {"dicomweb": {"mpps_clients": ["token:scanner"]}}})
    yield from start_site(site, MPPS_ITEMS)
