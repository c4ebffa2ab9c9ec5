"""Each connection's life on the server: every phase bounded in time, and one log line per association.

Phases and their bounds (``server`` settings, docs/conformance.md 1):

- **Setup** (TLS handshake and the A-ASSOCIATE-RQ): ``association_timeout`` seconds from the accept.
  pynetdicom's own ARTIM timer cannot enforce this: its DUL thread reads a PDU with a blocking ``recv`` of
  the length the PDU header announces, so a peer that sends part of a PDU and stops leaves the thread
  blocked (and the association slot taken) for as long as the peer keeps the connection open. A
  :class:`SetupDeadline` thread shuts down the socket of a connection that has no association by then,
  which ends that ``recv``; the association's thread (which holds the slot) ends when pynetdicom's ACSE
  timeout (ARTIM, set a second later as a backstop) gives up waiting for the request.
- **Established**: pynetdicom's idle timer aborts an association that sends nothing for ``network_timeout``
  seconds; the same value bounds each socket read and write, so a PDU whose bytes stop coming ends it too.
- **TLS**: the handshake runs here, in the connection's own thread, not in pynetdicom's accept loop (where
  one silent client would hold up every other connection); see ``server.tls_context``.

Log lines (logger ``pylantir.dicom.connections``, no patient data): INFO per association accepted or
refused (with the reason and the count of refusals since start), WARNING per connection closed at its
setup deadline or failing its TLS handshake, INFO per association closed for silence.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

from pydicom.uid import UID
from pynetdicom import evt
from pynetdicom._handlers import (
    standard_dimse_recv_handler,
    standard_dimse_sent_handler,
    standard_pdu_recv_handler,
    standard_pdu_sent_handler,
)
from pynetdicom.association import Association
from pynetdicom.events import Event, EventType

from pylantir import metrics
from pylantir.config import ServerSettings

log = logging.getLogger(__name__)

# pynetdicom binds these to every association (per-PDU and per-DIMSE log lines); unbound unless its
# logger shows DEBUG (``pylantir -vv``). They cost time on every message and are noise otherwise.
_STANDARD_LOG_HANDLERS = (
    (evt.EVT_PDU_RECV, standard_pdu_recv_handler),
    (evt.EVT_PDU_SENT, standard_pdu_sent_handler),
    (evt.EVT_DIMSE_RECV, standard_dimse_recv_handler),
    (evt.EVT_DIMSE_SENT, standard_dimse_sent_handler),
)


def raw_socket(assoc: Association) -> socket.socket | None:
    """The association's socket (an ``ssl.SSLSocket`` over TLS), or None once it is closed."""
    transport = assoc.dul.socket
    return transport.socket if transport is not None else None


def prepare_association(assoc: Association, nodelay: bool = True) -> None:
    """Per-association settings, for the server and the client alike (called on ``EVT_CONN_OPEN``).

    TCP_NODELAY, so that a response PDU is not held back by a delayed ACK (Nagle), and pynetdicom's
    standard log handlers unbound unless its logger shows DEBUG.
    """
    if not logging.getLogger("pynetdicom").isEnabledFor(logging.DEBUG):
        for event, handler in _STANDARD_LOG_HANDLERS:
            assoc.unbind(event, handler)
    connection = raw_socket(assoc)
    if nodelay and connection is not None:
        try:
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            log.debug("cannot set TCP_NODELAY")


def peer_of(assoc: Association) -> str:
    """``host:port`` of the association's peer."""
    return f"{assoc.requestor.address}:{assoc.requestor.port}"


def _shut(connection: socket.socket | None) -> None:
    """Shut a socket down both ways: a thread blocked reading it returns at once."""
    if connection is not None:
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)


def close_connection(assoc: Association) -> None:
    """End ``assoc``'s connection now, even while pynetdicom waits inside a read on it."""
    _shut(raw_socket(assoc))


def _negotiating(assoc: Association) -> bool:
    return not (assoc.is_established or assoc.is_released or assoc.is_aborted or assoc.is_rejected)


class SetupDeadline:
    """A thread that closes connections still without an association at their deadline."""

    def __init__(self, on_expired: Callable[[Association], None]):
        self._on_expired = on_expired
        self._deadlines: list[tuple[float, int, Association]] = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="pylantir-setup-deadline", daemon=True)

    def start(self) -> None:
        """Start watching."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (connections still watched are left to pynetdicom)."""
        with self._changed:
            self._stopped = True
            self._changed.notify()
        if self._thread.is_alive():
            self._thread.join()

    def watch(self, assoc: Association, deadline: float) -> None:
        """Close ``assoc``'s connection at ``deadline`` (``time.monotonic()``) unless it has an association."""
        with self._changed:
            heapq.heappush(self._deadlines, (deadline, next(self._order), assoc))
            self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._stopped and (not self._deadlines or self._deadlines[0][0] > time.monotonic()):
                    self._changed.wait(self._deadlines[0][0] - time.monotonic() if self._deadlines else None)
                if self._stopped:
                    return
                _deadline, _order, assoc = heapq.heappop(self._deadlines)
            if _negotiating(assoc) and raw_socket(assoc) is not None:
                self._on_expired(assoc)


# A-ASSOCIATE-RJ (result, source, diagnostic) -> the reason in the log (PS3.8 9.3.4)
_REFUSALS: dict[tuple[int | None, int | None, int | None], str] = {
    (0x01, 0x01, 0x03): "calling AE title {calling} is not in server.allowed_aets",
    (0x01, 0x01, 0x07): "called AE title {called} is not {ae_title} (server.check_called_ae_title)",
    (0x02, 0x03, 0x02): "limit reached (server.max_associations = {limit})",
}
#: The ``reason`` label of ``pylantir_associations_refused`` for each refusal (no AE title in a label value).
_REFUSAL_LABELS: dict[tuple[int | None, int | None, int | None], str] = {
    (0x01, 0x01, 0x03): "calling_ae_not_allowed", (0x01, 0x01, 0x07): "called_ae_wrong",
    (0x02, 0x03, 0x02): "limit",
}


class ConnectionGuard:
    """The server's connection handlers: bounded phases and the association log lines, with counts."""

    def __init__(self, settings: ServerSettings):
        self.settings = settings
        self.deadline = SetupDeadline(self._expired)
        self._refusals = 0
        self._lock = threading.Lock()
        self._established: set[int] = set()

    def handlers(self) -> list[tuple[EventType, Callable[..., Any]]]:
        """The ``(event, handler)`` pairs to bind on the server."""
        return [
            (evt.EVT_CONN_OPEN, self._opened),
            (evt.EVT_ACCEPTED, self._accepted),
            (evt.EVT_REJECTED, self._rejected),
            (evt.EVT_ABORTED, self._aborted),
            (evt.EVT_CONN_CLOSE, self._closed),
        ]

    def _count_refusal(self, reason: str) -> int:
        metrics.ASSOCIATIONS_REFUSED.labels(reason).inc()
        with self._lock:
            self._refusals += 1
            return self._refusals

    def _closed(self, event: Event) -> None:
        with self._lock:
            if id(event.assoc) not in self._established:
                return
            self._established.discard(id(event.assoc))
        metrics.ASSOCIATIONS_ACTIVE.dec()

    def _opened(self, event: Event) -> None:
        opened = time.monotonic()
        assoc = event.assoc
        prepare_association(assoc)
        connection = raw_socket(assoc)
        if connection is None:
            return
        if isinstance(connection, ssl.SSLSocket) and not self._handshake(connection, peer_of(assoc)):
            return
        connection.settimeout(self.settings.network_timeout)
        self.deadline.watch(assoc, opened + self.settings.association_timeout)

    def _handshake(self, connection: ssl.SSLSocket, peer: str) -> bool:
        """The TLS handshake, bounded by the setup timeout; False (socket shut) when it fails."""
        connection.settimeout(self.settings.association_timeout)
        try:
            connection.do_handshake()
            return True
        except TimeoutError:
            reason = f"no TLS handshake within {self.settings.association_timeout:g} s (server.association_timeout)"
        except (ssl.SSLError, OSError) as exc:
            reason = f"TLS handshake failed: {getattr(exc, 'reason', None) or type(exc).__name__}"
        # Logged before the socket is shut, so the line exists by the time the peer sees the close.
        log.warning("connection from %s closed: %s; %d refused since start", peer, reason,
                    self._count_refusal("tls_handshake"))
        _shut(connection)
        return False

    def _expired(self, assoc: Association) -> None:
        log.warning(
            "connection from %s closed: no complete association request within %g s (server.association_timeout);"
            " %d refused since start",
            peer_of(assoc), self.settings.association_timeout, self._count_refusal("setup_timeout"),
        )
        close_connection(assoc)

    def _accepted(self, event: Event) -> None:
        assoc = event.assoc
        services = sorted({UID(context.abstract_syntax or "").name for context in assoc.accepted_contexts})
        metrics.ASSOCIATIONS_ACCEPTED.labels(metrics.ae_label(assoc.requestor.ae_title)).inc()
        with self._lock:
            self._established.add(id(assoc))
        metrics.ASSOCIATIONS_ACTIVE.inc()
        log.info("association from %s: %s -> %s accepted (%s)", peer_of(assoc), assoc.requestor.ae_title,
                 _called(assoc), ", ".join(services) or "no presentation context accepted")

    def _rejected(self, event: Event) -> None:
        assoc = event.assoc
        answer = assoc.acceptor.primitive
        key = (answer.result, answer.result_source, answer.diagnostic) if answer is not None else None
        template = _REFUSALS.get(key) if key else None
        reason = template.format(
            calling=assoc.requestor.ae_title, called=_called(assoc), ae_title=self.settings.ae_title,
            limit=self.settings.max_associations,
        ) if template else f"result/source/reason {key}"
        log.info("association from %s: %s -> %s refused: %s; %d refused since start", peer_of(assoc),
                 assoc.requestor.ae_title, _called(assoc), reason,
                 self._count_refusal(_REFUSAL_LABELS.get(key, "rejected") if key else "rejected"))

    def _aborted(self, event: Event) -> None:
        assoc = event.assoc
        if assoc.dul.idle_timer_expired():
            log.info("association from %s: %s closed after %g s without a message (server.network_timeout)",
                     peer_of(assoc), assoc.requestor.ae_title, self.settings.network_timeout)
        else:
            log.debug("association from %s: %s aborted", peer_of(assoc), assoc.requestor.ae_title)


def _called(assoc: Association) -> str:
    request = assoc.requestor.primitive
    return str(request.called_ae_title).strip() if request is not None else "?"
