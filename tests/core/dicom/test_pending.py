"""Pending C-FIND responses written by the handler's thread (pylantir.dicom.pending): the PDUs are
pynetdicom's, and a long answer is not taken for a silent peer."""

from __future__ import annotations

from pynetdicom.pdu import P_DATA_TF
from pynetdicom.pdu_primitives import P_DATA

from pylantir.dicom.pending import p_data_tf


def test_pdus_are_encoded_as_pynetdicom_encodes_them() -> None:
    for pdvs in ([(1, b"\x03" + b"c" * 90), (1, b"\x02" + b"d" * 301)], [(7, b"\x02")], [(255, b"\x00" * 70_000)]):
        primitive = P_DATA()
        primitive.presentation_data_value_list = [list(pdv) for pdv in pdvs]
        assert p_data_tf(pdvs) == P_DATA_TF(primitive).encode()
        decoded = P_DATA_TF()
        decoded.decode(p_data_tf(pdvs))
        assert [(item.presentation_context_id, item.presentation_data_value)
                for item in decoded.presentation_data_value_items] == pdvs
