"""The pynetdicom server: presentation contexts, access control, TLS, limits and timeouts.

``start_server(config, database)`` listens in background threads and returns a :class:`RunningServer`
(``.port``, ``.shutdown()``); port 0 picks a free port, which is what tests and the plugin kit use.

Every setting is applied to our AE and its associations, except one that pynetdicom only has process-wide:
see :func:`quiet_identifier_logging`.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pynetdicom import AE, _config, evt
from pynetdicom.events import Event, EventHandlerType
from pynetdicom.sop_class import (  # type: ignore[attr-defined]  # pynetdicom makes its SOP class names at import
    ModalityPerformedProcedureStep,
    ModalityWorklistInformationFind,
    Verification,
)
from pynetdicom.transport import ThreadedAssociationServer

from pylantir.config import PylantirConfig, ServerSettings, TlsSettings
from pylantir.dicom.connections import ConnectionGuard, close_connection
from pylantir.dicom.echo import handle_echo
from pylantir.dicom.find import make_find_handler
from pylantir.dicom.matching import MatchSettings
from pylantir.dicom.mpps import MppsHandlers
from pylantir.store import Database
from pylantir.sync.clock import Clock
from pylantir.writeback.outbox import WriteBackRecorder

SUPPORTED_SOP_CLASSES = (ModalityWorklistInformationFind, ModalityPerformedProcedureStep, Verification)
#: Seconds pynetdicom's ARTIM timer waits beyond ``server.association_timeout``.
ARTIM_MARGIN = 1.0


class ServerStartError(Exception):
    """The server cannot start (bad TLS files, port in use); the message names the setting."""


def quiet_identifier_logging() -> None:
    """Switch off pynetdicom's identifier logging: the one pynetdicom setting that is process-wide.

    pynetdicom decodes and prints every C-FIND/N-CREATE/N-SET identifier (patient data) at INFO when
    ``_config.LOG_REQUEST_IDENTIFIERS`` / ``LOG_RESPONSE_IDENTIFIERS`` are set (its default), and offers no
    per-AE switch. The server and the client switch them off; they only ever set them to False.
    """
    _config.LOG_REQUEST_IDENTIFIERS = False
    _config.LOG_RESPONSE_IDENTIFIERS = False


def handle_sop_extended(event: Event) -> dict[str, bytes]:
    """SOP Class Extended Negotiation (PS3.4 K.5.1): answer each MWL sub-item with every sub-field 0.

    Neither fuzzy semantic matching of person names nor timezone query adjustment is supported; SOP classes
    without a sub-item in the request get none in the response.
    """
    return {
        uid: bytes(len(info))
        for uid, info in event.app_info.items()  # type: ignore[attr-defined]  # set per event type by pynetdicom
        if uid == ModalityWorklistInformationFind and info
    }


class _HandshakeInConnectionThread(ssl.SSLContext):
    """A server context whose sockets do not handshake when wrapped.

    pynetdicom wraps each accepted socket in its accept loop; a handshake there would let one client that
    connects and says nothing stop every other connection. The handshake runs in the connection's own
    thread instead, bounded by ``server.association_timeout`` (``ConnectionGuard``).
    """

    def wrap_socket(self, sock: socket.socket, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        """Wrap ``sock`` without the handshake (``do_handshake_on_connect=False``)."""
        kwargs["do_handshake_on_connect"] = False
        return super().wrap_socket(sock, *args, **kwargs)


def tls_context(tls: TlsSettings) -> ssl.SSLContext:
    """The server's TLS context from ``server.tls``; raises :class:`ServerStartError` naming the bad file."""
    context = _HandshakeInConnectionThread(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(tls.certificate, tls.private_key)
    except (OSError, ssl.SSLError) as exc:
        raise ServerStartError(
            f"server.tls.certificate / server.tls.private_key: cannot load {tls.certificate} with "
            f"{tls.private_key}: {exc}"
        ) from exc
    if tls.ca_certificates:
        try:
            context.load_verify_locations(cafile=tls.ca_certificates)
        except (OSError, ssl.SSLError) as exc:
            raise ServerStartError(f"server.tls.ca_certificates: cannot load {tls.ca_certificates}: {exc}") from exc
        context.verify_mode = ssl.CERT_REQUIRED if tls.require_client_certificate else ssl.CERT_OPTIONAL
    elif tls.require_client_certificate:
        raise ServerStartError("server.tls.require_client_certificate needs server.tls.ca_certificates")
    return context


def build_ae(settings: ServerSettings) -> AE:
    """An application entity accepting MWL FIND, MPPS and Verification, with the configured limits."""
    ae = AE(ae_title=settings.ae_title)
    for sop_class in SUPPORTED_SOP_CLASSES:
        ae.add_supported_context(sop_class)
    ae.maximum_associations = settings.max_associations
    ae.maximum_pdu_size = settings.maximum_pdu_size
    # pynetdicom's ARTIM timer is the backstop; ConnectionGuard's setup deadline acts (and logs) first.
    ae.acse_timeout = settings.association_timeout + ARTIM_MARGIN
    ae.network_timeout = settings.network_timeout
    ae.require_called_aet = settings.check_called_ae_title
    if settings.allowed_aets:
        ae.require_calling_aet = list(settings.allowed_aets)
    return ae


@dataclass
class RunningServer:
    """A server listening in background threads."""

    ae: AE
    server: ThreadedAssociationServer
    host: str
    port: int
    ae_title: str
    guard: ConnectionGuard
    #: Records MPPS changes of write-back sources; the HTTP face's MPPS (DICOMweb) records through it too.
    write_back: WriteBackRecorder
    _stopped: bool = field(default=False, init=False, repr=False)

    def listening(self) -> bool:
        """Whether the server still has its listening socket open (``/ready`` asks)."""
        sock = self.server.socket
        return not self._stopped and sock is not None and sock.fileno() >= 0

    def shutdown(self) -> None:
        """Stop listening, then abort the associations still open. Calling it again does nothing."""
        if self._stopped:
            return
        self._stopped = True
        self.guard.deadline.stop()
        stopper = threading.Thread(target=self.server.shutdown, name="pylantir-server-shutdown")
        stopper.start()
        # Wake the accept loop now instead of at its next 0.5 s poll: it sees the shutdown request first.
        with contextlib.suppress(OSError):
            if self.server.socket is not None:
                self.server.socket.shutdown(socket.SHUT_RDWR)
        stopper.join()
        for assoc in self.ae.active_associations:
            if assoc.is_established:
                assoc.abort()
            else:  # still negotiating: pynetdicom may be blocked reading a half-sent PDU
                close_connection(assoc)


def start_server(
    config: PylantirConfig,
    database: Database,
    *,
    host: str | None = None,
    port: int | None = None,
    ae_title: str | None = None,
    clock: Clock | None = None,
    on_write_back: Callable[[], None] | None = None,
) -> RunningServer:
    """Start the DICOM server for ``config.server`` (arguments override it; ``port=0`` picks a free port).

    ``clock`` (the system clock by default) is when the visibility windows are judged; ``on_write_back`` is
    called once MPPS changes to write back to a source are committed (it wakes the write-back worker).
    """
    updates = {k: v for k, v in {"host": host, "port": port, "ae_title": ae_title}.items() if v is not None}
    settings = config.server.model_copy(update=updates)
    quiet_identifier_logging()
    ae = build_ae(settings)
    match = MatchSettings.for_config(config, database.sql, clock)
    write_back = WriteBackRecorder(frozenset(source.name for source in config.write_back_sources()), on_write_back)
    mpps = MppsHandlers(database, write_back)
    guard = ConnectionGuard(settings)
    handlers: list[EventHandlerType] = [
        *guard.handlers(),
        (evt.EVT_SOP_EXTENDED, handle_sop_extended),
        (evt.EVT_C_ECHO, handle_echo),
        (evt.EVT_C_FIND, make_find_handler(database, match)),
        (evt.EVT_N_CREATE, mpps.handle_create),
        (evt.EVT_N_SET, mpps.handle_set),
    ]
    context = tls_context(settings.tls) if settings.tls else None
    try:
        server = ae.start_server(
            (settings.host, settings.port), block=False, evt_handlers=handlers, ssl_context=context
        )
    except OSError as exc:
        raise ServerStartError(f"server.host/server.port: cannot listen on {settings.host}:{settings.port}: "
                               f"{exc.strerror or exc}") from exc
    assert server is not None  # start_server(block=False) returns the server
    # socketserver listens with a backlog of 5: a burst of connections would have SYNs dropped and retried
    # a second later. A second listen() on the bound socket only raises the backlog.
    if server.socket is not None:
        server.socket.listen(socket.SOMAXCONN)
    guard.deadline.start()
    bound_port = server.server_address[1]
    return RunningServer(ae, server, settings.host, bound_port, settings.ae_title, guard, write_back)
