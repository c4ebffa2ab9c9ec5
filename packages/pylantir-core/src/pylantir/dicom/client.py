"""A small DICOM client (SCU) for site staff, tests and benchmarks: C-ECHO, Modality Worklist C-FIND and an
MPPS N-CREATE / N-SET (what a modality sends when it starts and ends an exam)."""

from __future__ import annotations

import queue
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from pydicom import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid
from pynetdicom import AE, evt
from pynetdicom.association import Association
from pynetdicom.events import Event
from pynetdicom.sop_class import (  # type: ignore[attr-defined]  # pynetdicom makes its SOP class names at import
    ModalityPerformedProcedureStep,
    ModalityWorklistInformationFind,
    Verification,
)

from pylantir.dicom.connections import prepare_association
from pylantir.dicom.server import quiet_identifier_logging
from pylantir.store.catalogue import Level, at_level

#: A DIMSE message waiting in the queue: (presentation context ID, message primitive).
_Message = tuple[int | None, object]

# Return keys a modality typically asks for (IHE RAD-5), top level and inside the SPS item (the catalogue's).
TOP_LEVEL_KEYS = tuple(keyword for keyword, entry in at_level(Level.TOP).items() if entry.usual)
SPS_KEYS = tuple(keyword for keyword, entry in at_level(Level.STEP).items() if entry.usual)


class DicomClientError(Exception):
    """The peer could not be reached, refused the association or answered with a failure status."""


@dataclass(frozen=True)
class Peer:
    """Where to connect and as whom."""

    host: str
    port: int
    calling_ae: str = "PYLANTIR_SCU"
    called_ae: str = "ANY-SCP"
    ssl_context: ssl.SSLContext | None = None
    timeout: float = 10.0
    nodelay: bool = True  # TCP_NODELAY on our socket (off only to measure what Nagle costs)


class _ResponsesQueue(queue.Queue[_Message]):
    """The DIMSE message queue of an association we requested: only a waiting ``send_*`` call takes from it.

    pynetdicom (3.0) also runs a reactor thread on a requested association, which polls this queue without
    blocking to serve requests from the peer. Its pause before each ``send_c_find`` is racy (the sender
    clears ``_reactor_checkpoint`` and checks ``_is_paused``, which the reactor may have set just before it
    polls once more): the reactor then takes a response that arrives at once (loopback), logs "Received
    unexpected C-FIND service message" and drops it. The C-FIND then ends without that match (about 1 query
    in 1,000 under load), or waits for a final response that never comes. Our client serves no DIMSE
    request, so the reactor's poll never gets anything here.
    """

    def get(self, block: bool = True, timeout: float | None = None) -> _Message:
        if not block:
            raise queue.Empty
        return super().get(block, timeout)


@contextmanager
def association(peer: Peer, *sop_classes: str) -> Iterator[Association]:
    """An established association with ``peer`` for ``sop_classes``, released on exit.

    Raises :class:`DicomClientError` saying why there is none: the connection (refused, no answer, unknown
    host, TLS), or the peer's answer (rejected with its reason, aborted).
    """
    quiet_identifier_logging()
    ae = AE(ae_title=peer.calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = ae.connection_timeout = peer.timeout
    for sop_class in sop_classes:
        ae.add_requested_context(sop_class)
    tls = (peer.ssl_context, peer.host) if peer.ssl_context else None
    connected: list[bool] = []

    def opened(event: Event) -> None:
        connected.append(True)
        prepare_association(event.assoc, peer.nodelay)

    assoc = ae.associate(peer.host, peer.port, ae_title=peer.called_ae, tls_args=tls,
                         evt_handlers=[(evt.EVT_CONN_OPEN, opened)])
    if not assoc.is_established:
        raise DicomClientError(_why_not_established(peer, assoc) if connected else _why_no_connection(peer))
    assoc.dimse.msg_queue = _ResponsesQueue()  # type: ignore[assignment]  # nothing was sent yet, so nothing is waiting in the old one
    try:
        yield assoc
    finally:
        if assoc.is_established:
            assoc.release()


def _why_not_established(peer: Peer, assoc: Association) -> str:
    where = f"{peer.host}:{peer.port} ({peer.called_ae})"
    if assoc.is_rejected:
        answer = assoc.acceptor.primitive
        reason = f": {answer.reason_str}" if answer is not None else ""
        return f"association with {where} rejected{reason}"
    hint = " (over TLS: does the server want a client certificate, --tls-certificate?)" if peer.ssl_context else ""
    return f"association with {where} aborted{hint}" if assoc.is_aborted else f"no association with {where}"


def _why_no_connection(peer: Peer) -> str:
    """Connect once more, plainly, to say why pynetdicom could not (it only logs the error)."""
    where = f"{peer.host}:{peer.port}"
    try:
        with socket.create_connection((peer.host, peer.port), timeout=peer.timeout) as connection:
            if peer.ssl_context:
                with peer.ssl_context.wrap_socket(connection, server_hostname=peer.host):
                    pass
    except ConnectionRefusedError:
        return f"connection refused: is a server listening on {where}?"
    except TimeoutError:
        return f"no answer from {where} within {peer.timeout:g} s (a firewall, or the wrong host?)"
    except socket.gaierror:
        return f"unknown host {peer.host}"
    except ssl.SSLError as exc:
        return f"TLS handshake with {where} failed: {exc.reason or exc}"
    except OSError as exc:
        return f"cannot connect to {where}: {exc.strerror or exc}"
    return f"cannot connect to {where}"


def echo(peer: Peer) -> int:
    """Send one C-ECHO; return the response status (0 is success)."""
    with association(peer, Verification) as assoc:
        status = assoc.send_c_echo()
    if not status:
        raise DicomClientError(f"no C-ECHO response from {peer.host}:{peer.port}")
    return int(status.Status)


def _status_code(status: Dataset) -> int:
    return int(status.Status) if "Status" in status else -1


def find_on(assoc: Association, identifier: Dataset) -> list[tuple[int, Dataset | None]]:
    """Send one Modality Worklist C-FIND on an open association; every (status, identifier) answered."""
    return [(_status_code(status), result) for status, result in _find_responses(assoc, identifier)]


def _find_responses(assoc: Association, identifier: Dataset) -> list[tuple[Dataset, Dataset | None]]:
    return list(assoc.send_c_find(identifier, ModalityWorklistInformationFind))


def find(peer: Peer, identifier: Dataset) -> list[Dataset]:
    """Query a worklist: the matching identifiers, or :class:`DicomClientError` on a failure status."""
    with association(peer, ModalityWorklistInformationFind) as assoc:
        responses = _find_responses(assoc, identifier)
    final = responses[-1][0] if responses else Dataset()
    if _status_code(final) != 0x0000:
        code = f"0x{_status_code(final):04X}" if "Status" in final else "none (no response)"
        comment = f": {final.ErrorComment}" if final.get("ErrorComment") else ""
        raise DicomClientError(f"C-FIND failed with status {code}{comment}")
    return [result for status, result in responses if _status_code(status) in (0xFF00, 0xFF01) and result is not None]


def worklist_identifier(date: str = "", modality: str = "", station: str = "") -> Dataset:
    """A typical modality query: the usual return keys, matching on date (or range), modality and station."""
    identifier = Dataset()
    for keyword in TOP_LEVEL_KEYS:
        setattr(identifier, keyword, "")
    step = Dataset()
    for keyword in SPS_KEYS:
        setattr(step, keyword, "")
    step.ScheduledProcedureStepStartDate = date
    step.Modality = modality
    step.ScheduledStationAETitle = station
    identifier.ScheduledProcedureStepSequence = Sequence([step])
    return identifier


#: The statuses an N-SET may end a Performed Procedure Step with.
FINAL_MPPS_STATUSES = ("COMPLETED", "DISCONTINUED")
#: Type 2 attributes of an N-CREATE (PS3.4 Table F.7.2-1), sent empty.
_CREATE_EMPTY = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "ReferencedPatientSequence",
    "PerformedStationName", "PerformedLocation", "PerformedProcedureStepDescription",
    "PerformedProcedureTypeDescription", "ProcedureCodeSequence", "PerformedProcedureStepEndDate",
    "PerformedProcedureStepEndTime", "StudyID", "PerformedProtocolCodeSequence", "PerformedSeriesSequence",
)
_STEP_EMPTY = (
    "AccessionNumber", "RequestedProcedureID", "RequestedProcedureDescription", "ScheduledProcedureStepID",
    "ScheduledProcedureStepDescription", "ScheduledProtocolCodeSequence", "ReferencedStudySequence",
)


def _add_empty(dataset: Dataset, keywords: tuple[str, ...]) -> None:
    for keyword in keywords:
        setattr(dataset, keyword, Sequence() if keyword.endswith("Sequence") else "")


def _mpps_status(status: Dataset | None, request: str, peer: Peer) -> None:
    if not status or "Status" not in status:
        raise DicomClientError(f"no {request} response from {peer.host}:{peer.port}")
    if int(status.Status) != 0x0000:
        comment = f": {status.ErrorComment}" if status.get("ErrorComment") else ""
        raise DicomClientError(f"{request} failed with status 0x{int(status.Status):04X}{comment}")


def mpps_in_progress(peer: Peer, study_uid: str, modality: str, now: datetime) -> str:
    """Send an MPPS N-CREATE (IN PROGRESS) for the exam of Study Instance UID ``study_uid``, as a modality
    does when it starts it; return the new instance's SOP Instance UID (what :func:`mpps_final` needs)."""
    sop_instance_uid = generate_uid()
    step = Dataset()
    step.StudyInstanceUID = study_uid
    _add_empty(step, _STEP_EMPTY)
    created = Dataset()
    created.ScheduledStepAttributesSequence = Sequence([step])
    created.PerformedProcedureStepID = now.strftime("%H%M%S%f")[:16]
    created.PerformedStationAETitle = peer.calling_ae
    created.PerformedProcedureStepStartDate = now.strftime("%Y%m%d")
    created.PerformedProcedureStepStartTime = now.strftime("%H%M%S")
    created.PerformedProcedureStepStatus = "IN PROGRESS"
    created.Modality = modality
    _add_empty(created, _CREATE_EMPTY)
    with association(peer, ModalityPerformedProcedureStep) as assoc:
        status, _ = assoc.send_n_create(created, ModalityPerformedProcedureStep, sop_instance_uid)
    _mpps_status(status, "MPPS N-CREATE", peer)
    return sop_instance_uid


def mpps_final(peer: Peer, sop_instance_uid: str, status: str, protocol: str, now: datetime) -> None:
    """Send an MPPS N-SET ending the instance ``sop_instance_uid`` as ``status`` (COMPLETED or
    DISCONTINUED), with the end date and time and one performed series (``protocol``), as PS3.4 F.7.2 asks."""
    if status not in FINAL_MPPS_STATUSES:
        raise DicomClientError(f"an MPPS ends as {' or '.join(FINAL_MPPS_STATUSES)}, not {status!r}")
    series = Dataset()
    series.SeriesInstanceUID = generate_uid()
    series.ProtocolName = protocol
    series.ReferencedImageSequence = Sequence()
    series.ReferencedNonImageCompositeSOPInstanceSequence = Sequence()
    change = Dataset()
    change.PerformedProcedureStepStatus = status
    change.PerformedProcedureStepEndDate = now.strftime("%Y%m%d")
    change.PerformedProcedureStepEndTime = now.strftime("%H%M%S")
    change.PerformedSeriesSequence = Sequence([series])
    with association(peer, ModalityPerformedProcedureStep) as assoc:
        answer, _ = assoc.send_n_set(change, ModalityPerformedProcedureStep, sop_instance_uid)
    _mpps_status(answer, "MPPS N-SET", peer)
