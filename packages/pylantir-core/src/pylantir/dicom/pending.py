"""Pending C-FIND responses sent as encoded bytes, one P-DATA-TF PDU per response, several PDUs per write.

pynetdicom's C-FIND service builds and encodes each pending response's command set with pydicom, encodes
the identifier, and queues the command and the identifier as two PDUs, which its DUL reactor thread then
encodes and sends one by one. The command set of a pending response is the same for every match of one
request (Message ID Being Responded To, Affected SOP Class UID, status), so :class:`PendingResponses` has
pynetdicom encode it once per C-FIND, and writes each match as one P-DATA-TF PDU holding two PDVs (command,
then identifier; PS3.8 9.3.5 allows several PDVs in one PDU, and each PDU still carries one message only,
which is what pynetdicom's receiver expects). An identifier too large for the peer's maximum PDU length
goes through pynetdicom's own fragmentation.

On a TCP connection the PDUs are written to the association's socket by the handler's thread, about
:data:`WRITE_BYTES` at a time (one system call for dozens of responses instead of one reactor turn, PDU
encoding and system call for each). This is safe because nothing else is sent on the association
meanwhile: the peer sent the request after receiving everything before it, and pynetdicom sends the final
response only after the handler's last yield, by which time :meth:`PendingResponses.finish` has written
every pending one. On a TLS connection (where the reactor thread reads from the same ``SSLSocket``) the
PDUs go to the association's DUL queue, the one pynetdicom's own messages take, as before. pynetdicom's
``EVT_DIMSE_SENT``/``EVT_PDU_SENT`` are not triggered for them (no handler of ours uses them).

pynetdicom restarts an association's ``network_timeout`` only when it *receives* a PDU, and checks it when
the handler returns: :meth:`PendingResponses.finish` restarts it, so that a long answer (10,000 matches
on a loaded machine) is not taken for a silent peer and aborted after its last response.

Only for Implicit and Explicit VR Little Endian (:mod:`pylantir.dicom.encoding`); :meth:`for_event`
returns ``None`` for the other accepted transfer syntaxes, whose responses pynetdicom encodes, and while
pynetdicom logs at DEBUG (``pylantir -vv``), so that its log shows every message it would have sent.
"""

from __future__ import annotations

import logging
import ssl
import struct
from io import BytesIO

from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom.association import Association
from pynetdicom.dimse_messages import C_FIND_RSP
from pynetdicom.dimse_primitives import C_FIND
from pynetdicom.dsutils import encode
from pynetdicom.events import Event
from pynetdicom.pdu import P_DATA_TF
from pynetdicom.pdu_primitives import P_DATA

#: Message control headers (PS3.8 E.2): last fragment of a command, last fragment of a data set.
_LAST_COMMAND = b"\x03"
_LAST_DATA_SET = b"\x02"
#: Bytes a PDV item adds to its value (message control header and fragment): item length, context ID.
_PDV_ITEM_HEADER = 5
#: A P-DATA-TF PDU's header (PS3.8 9.3.5): type 04H, reserved, length of the rest (big endian).
_PDU_HEADER = struct.Struct(">BxL")
_P_DATA_TF = 0x04
#: A PDV item's header: item length (the context ID and the value), presentation context ID.
_PDV_HEADER = struct.Struct(">LB")
#: Bytes gathered before one write to the socket.
WRITE_BYTES = 16384


def p_data_tf(pdvs: list[tuple[int, bytes]]) -> bytes:
    """A P-DATA-TF PDU of ``pdvs`` (presentation context ID, message control header + fragment), as
    pynetdicom encodes it."""
    items = b"".join([_PDV_HEADER.pack(len(value) + 1, context_id) + value for context_id, value in pdvs])
    return _PDU_HEADER.pack(_P_DATA_TF, len(items)) + items


class PendingResponses:
    """Sends the pending responses of one C-FIND request, each identifier already encoded."""

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
        # written here on TCP; queued for the reactor thread on TLS (see the module's docstring)
        self.direct = not isinstance(self.assoc.dul.socket.socket, ssl.SSLSocket)  # type: ignore[union-attr]
        self.unsent: list[bytes] = []
        self.unsent_bytes = 0

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
        """Send (or gather, until :meth:`finish`) one pending response carrying ``identifier`` (encoded in
        the context's transfer syntax)."""
        size = 2 * _PDV_ITEM_HEADER + len(self.command_pdv[1]) + 1 + len(identifier)
        if self.maximum_length and size > self.maximum_length:
            self.message.data_set = BytesIO(identifier)
            for pdata in self.message.encode_msg(self.context_id, self.maximum_length):
                if self.direct:
                    self._write(P_DATA_TF(pdata).encode())
                else:
                    self.assoc.dul.send_pdu(pdata)
            return
        pdvs = [self.command_pdv, (self.context_id, _LAST_DATA_SET + identifier)]
        if self.direct:
            self._write(p_data_tf(pdvs))
            return
        pdata = P_DATA()
        # appended as pynetdicom's own messages are (its setter takes lists, its list holds tuples)
        pdata.presentation_data_value_list.extend(pdvs)
        self.assoc.dul.send_pdu(pdata)

    def _write(self, pdu: bytes) -> None:
        self.unsent.append(pdu)
        self.unsent_bytes += len(pdu)
        if self.unsent_bytes >= WRITE_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self.unsent and self.assoc.is_established:
            # pynetdicom's own send: every byte, and on failure the "connection closed" event for its reactor
            self.assoc.dul.socket.send(b"".join(self.unsent))  # type: ignore[union-attr]
        self.unsent.clear()
        self.unsent_bytes = 0

    def finish(self) -> None:
        """Write what is gathered, and restart the association's ``network_timeout``: the handler's answer
        was activity (call before the handler yields anything else or returns)."""
        self._flush()
        self.assoc.dul._idle_timer.restart()
