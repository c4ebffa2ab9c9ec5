"""Pending C-FIND responses sent as encoded bytes, one P-DATA-TF PDU per response.

pynetdicom's C-FIND service builds and encodes each pending response's command set with pydicom, encodes
the identifier, and queues the command and the identifier as two PDUs. The command set of a pending
response is the same for every match of one request (Message ID Being Responded To, Affected SOP Class
UID, status), so :class:`PendingResponses` has pynetdicom encode it once per C-FIND and queues each match
as one P-DATA-TF PDU holding two PDVs (command, then identifier; PS3.8 9.3.5 allows several PDVs in one
PDU, and each PDU still carries one message only, which is what pynetdicom's receiver expects). An
identifier too large for the peer's maximum PDU length goes through pynetdicom's own fragmentation.

The PDUs go to the association's DUL queue, the one pynetdicom's own messages take, so a failure status,
a cancel response or the final success that pynetdicom sends after the handler's last yield follows them
in order. pynetdicom's ``EVT_DIMSE_SENT`` is not triggered for them (no handler of ours uses it).

Only for Implicit and Explicit VR Little Endian (:mod:`pylantir.dicom.encoding`); :meth:`for_event`
returns ``None`` for the other accepted transfer syntaxes, whose responses pynetdicom encodes, and while
pynetdicom logs at DEBUG (``pylantir -vv``), so that its log shows every message it would have sent.
"""

from __future__ import annotations

import logging
from io import BytesIO

from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom.association import Association
from pynetdicom.dimse_messages import C_FIND_RSP
from pynetdicom.dimse_primitives import C_FIND
from pynetdicom.dsutils import encode
from pynetdicom.events import Event
from pynetdicom.pdu_primitives import P_DATA

#: Message control headers (PS3.8 E.2): last fragment of a command, last fragment of a data set.
_LAST_COMMAND = b"\x03"
_LAST_DATA_SET = b"\x02"
#: Bytes a PDV item adds to its value (message control header and fragment): item length, context ID.
_PDV_ITEM_HEADER = 5


class PendingResponses:
    """Sends the pending responses of one C-FIND request, each identifier encoded by ``encode_response``."""

    def __init__(self, event: Event, status: int, implicit: bool):
        self.assoc: Association = event.assoc
        self.context_id: int = event.context.context_id
        self.implicit = implicit
        self.maximum_length: int = self.assoc.dimse.maximum_pdu_size
        primitive = C_FIND()
        primitive.MessageIDBeingRespondedTo = event.request.MessageID
        primitive.AffectedSOPClassUID = event.request.AffectedSOPClassUID
        primitive.Status = status
        primitive.Identifier = BytesIO(b"\0\0")  # any identifier: the command set says one follows
        self.message = C_FIND_RSP()
        self.message.primitive_to_message(primitive)
        command = encode(self.message.command_set, True, True)
        assert command is not None  # a command set pynetdicom built itself
        self.command_pdv: tuple[int, bytes] = (self.context_id, _LAST_COMMAND + command)

    @classmethod
    def for_event(cls, event: Event, status: int) -> PendingResponses | None:
        """The sender for ``event``'s request, or ``None`` when its transfer syntax is not little endian
        or pynetdicom logs each message."""
        if logging.getLogger("pynetdicom").isEnabledFor(logging.DEBUG):
            return None
        syntax = event.context.transfer_syntax
        if syntax == ImplicitVRLittleEndian:
            return cls(event, status, implicit=True)
        if syntax == ExplicitVRLittleEndian:
            return cls(event, status, implicit=False)
        return None

    def send(self, identifier: bytes) -> None:
        """Queue one pending response carrying ``identifier`` (encoded in the context's transfer syntax)."""
        data_set_pdv = (self.context_id, _LAST_DATA_SET + identifier)
        size = 2 * _PDV_ITEM_HEADER + len(self.command_pdv[1]) + len(data_set_pdv[1])
        if self.maximum_length and size > self.maximum_length:
            self.message.data_set = BytesIO(identifier)
            for pdata in self.message.encode_msg(self.context_id, self.maximum_length):
                self.assoc.dul.send_pdu(pdata)
            return
        pdata = P_DATA()
        # appended as pynetdicom's own messages are (its setter takes lists, its list holds tuples)
        pdata.presentation_data_value_list.extend((self.command_pdv, data_set_pdv))
        self.assoc.dul.send_pdu(pdata)
