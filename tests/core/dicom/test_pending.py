"""Pending C-FIND responses written by the handler's thread (pylantir.dicom.pending): the PDUs are
pynetdicom's, and a long answer is not taken for a silent peer."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from pydicom import Dataset
from pynetdicom.pdu import P_DATA_TF
from pynetdicom.pdu_primitives import P_DATA
from pynetdicom.sop_class import ModalityWorklistInformationFind  # type: ignore[attr-defined]  # made at import
from sqlalchemy import text

from pylantir.dicom import RunningServer
from pylantir.dicom.client import Peer, association, find_on
from pylantir.dicom.pending import p_data_tf
from pylantir.store import Database, WorklistItem


def test_pdus_are_encoded_as_pynetdicom_encodes_them() -> None:
    for pdvs in ([(1, b"\x03" + b"c" * 90), (1, b"\x02" + b"d" * 301)], [(7, b"\x02")], [(255, b"\x00" * 70_000)]):
        primitive = P_DATA()
        primitive.presentation_data_value_list = [list(pdv) for pdv in pdvs]
        assert p_data_tf(pdvs) == P_DATA_TF(primitive).encode()
        decoded = P_DATA_TF()
        decoded.decode(p_data_tf(pdvs))
        assert [(item.presentation_context_id, item.presentation_data_value)
                for item in decoded.presentation_data_value_items] == pdvs


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_an_answer_longer_than_network_timeout_is_not_aborted(
    database: Database, add_items: Callable[..., list[WorklistItem]], serve: Callable[..., RunningServer],
    query: Callable[..., Dataset],
) -> None:
    """pynetdicom counts only received PDUs as activity: an answer that takes longer than network_timeout
    (here the worklist table is locked meanwhile) must not get the peer aborted after its last response."""
    add_items({}, {})
    server = serve(network_timeout=1)
    peer = Peer("127.0.0.1", server.port, timeout=30)
    request = query({"PatientID": ""})
    with database.engine.connect() as locker, association(peer, ModalityWorklistInformationFind) as assoc:
        locker.execute(text("LOCK TABLE worklist_items IN ACCESS EXCLUSIVE MODE"))
        unlock = threading.Timer(3, locker.commit)  # three network_timeouts after the request, at the least
        unlock.start()
        try:
            first = find_on(assoc, request)
        finally:
            unlock.join()
        assert [status for status, _ in first] == [0xFF00, 0xFF00, 0x0000]
        assert [status for status, _ in find_on(assoc, request)] == [0xFF00, 0xFF00, 0x0000]  # still associated
