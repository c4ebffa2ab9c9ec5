"""Every phase of a connection is bounded: half-sent PDUs, silent peers and TLS handshakes cannot hold slots.

Raw loopback sockets play the hostile peers; a pynetdicom requestor plays the modality that must still be
answered. Timeouts are set low so the tests run in seconds; the defaults are in docs/conformance.md.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterator

import pytest
from pynetdicom import _config, evt
from pynetdicom._handlers import standard_pdu_recv_handler

from pylantir.dicom import RunningServer
from pylantir.dicom.client import DicomClientError, Peer, echo

from .conftest import association_request_bytes

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
SETUP_TIMEOUT = 2.0
# Slack for a loaded machine: thread scheduling, the client's retry pause and its own association.
SLACK = 2.5


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    """Raw client sockets, closed after the test."""
    opened: list[socket.socket] = []
    yield opened
    for raw in opened:
        raw.close()


def hostile(port: int, payload: bytes, opened: list[socket.socket]) -> socket.socket:
    """A connection that sends ``payload`` and then nothing."""
    raw = socket.create_connection(("127.0.0.1", port))
    raw.sendall(payload)
    opened.append(raw)
    return raw


def echo_until_answered(peer: Peer, limit: float) -> float:
    """Seconds until a C-ECHO succeeds, retrying as a modality would; fails after ``limit`` seconds."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        try:
            assert echo(peer) == 0
            return time.monotonic() - started
        except DicomClientError:
            time.sleep(0.2)
    pytest.fail(f"no C-ECHO answered within {limit} s")


def closed_by_server(raw: socket.socket, within: float) -> bool:
    """Whether the server closes ``raw`` within ``within`` seconds (EOF or reset on our side)."""
    raw.settimeout(within)
    try:
        while raw.recv(4096):
            pass
    except TimeoutError:
        return False
    except OSError:
        pass
    return True


@SQLITE_ONLY
def test_half_open_connections_do_not_hold_the_slots(serve: Callable[..., RunningServer],
                                                     sockets: list[socket.socket],
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """32 (= max_associations) connections that send half an A-ASSOCIATE-RQ and stop are closed at the setup
    deadline; a modality's C-ECHO is answered within the configured setup timeout of them arriving."""
    caplog.set_level(logging.INFO, "pylantir.dicom")
    server = serve(max_associations=32, association_timeout=SETUP_TIMEOUT)
    request = association_request_bytes()
    payloads = [request[: len(request) // 2], request[:3], request[:6], b""]  # half, cut header, header only, idle
    arrived = time.monotonic()
    for n in range(32):
        hostile(server.port, payloads[n % len(payloads)], sockets)
    time.sleep(0.5)
    modality = Peer("127.0.0.1", server.port, calling_ae="MR1", timeout=SETUP_TIMEOUT)
    with pytest.raises(DicomClientError, match="rejected"):
        echo(modality)  # every slot is taken by a half-open connection for now
    echo_until_answered(modality, SETUP_TIMEOUT + SLACK)
    assert time.monotonic() - arrived < SETUP_TIMEOUT + SLACK
    assert all(closed_by_server(raw, 1.0) for raw in sockets)
    closed = [r.getMessage() for r in caplog.records if "no complete association request" in r.getMessage()]
    assert len(closed) == 32 and all(r.levelno == logging.WARNING for r in caplog.records if "no complete" in
                                     r.getMessage())
    limit = next(r.getMessage() for r in caplog.records if "limit reached" in r.getMessage())
    assert "MR1" in limit and "server.max_associations = 32" in limit and "refused since start" in limit


@SQLITE_ONLY
def test_a_slow_drip_is_closed_at_the_setup_deadline(serve: Callable[..., RunningServer],
                                                     sockets: list[socket.socket]) -> None:
    """A peer that sends its request one byte at a time (never idle long) is still closed at the deadline."""
    server = serve(association_timeout=SETUP_TIMEOUT)
    request = association_request_bytes()
    raw = hostile(server.port, request[:1], sockets)
    started = time.monotonic()
    closed = False
    for byte in request[1:-1]:
        try:
            raw.sendall(bytes([byte]))
        except OSError:
            closed = True
            break
        time.sleep(0.25)
        if time.monotonic() - started > SETUP_TIMEOUT + SLACK:
            break
    assert closed or closed_by_server(raw, 0.5)
    assert time.monotonic() - started < SETUP_TIMEOUT + SLACK


@SQLITE_ONLY
def test_a_pdu_cut_short_after_association_is_closed(serve: Callable[..., RunningServer],
                                                     sockets: list[socket.socket]) -> None:
    """After a complete association, a P-DATA PDU whose bytes stop coming ends the connection within
    network_timeout (pynetdicom would wait for the rest for ever)."""
    server = serve(network_timeout=1)
    raw = hostile(server.port, association_request_bytes(), sockets)
    raw.settimeout(5)
    assert raw.recv(1) == b"\x02"  # A-ASSOCIATE-AC
    raw.sendall(b"\x04\x00\x00\x00\x01\x00" + b"\x00" * 10)  # P-DATA-TF announcing 256 bytes, 10 sent
    assert closed_by_server(raw, 1 + SLACK)


@SQLITE_ONLY
def test_a_silent_association_is_closed_and_logged(serve: Callable[..., RunningServer],
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """An established association that sends nothing for network_timeout is closed, with an INFO line."""
    from pynetdicom.sop_class import Verification

    from pylantir.dicom.client import association

    caplog.set_level(logging.INFO, "pylantir.dicom")
    server = serve(network_timeout=1)
    with association(Peer("127.0.0.1", server.port, calling_ae="IDLE1"), Verification) as assoc:
        time.sleep(1 + SLACK)
        assert not assoc.is_established
    [line] = [r.getMessage() for r in caplog.records if "without a message" in r.getMessage()]
    assert "IDLE1" in line and "server.network_timeout" in line


def _tls_peer(files: dict[str, str], port: int) -> Peer:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=files["ca_cert"])
    return Peer("127.0.0.1", port, ssl_context=context, timeout=5)


@SQLITE_ONLY
def test_a_silent_client_does_not_stop_a_tls_server(serve: Callable[..., RunningServer], tls_files: dict[str, str],
                                                    sockets: list[socket.socket],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """The TLS handshake runs per connection: a client that connects and says nothing holds nobody up, and
    is closed at the setup deadline with a WARNING."""
    caplog.set_level(logging.INFO, "pylantir.dicom")
    server = serve(association_timeout=SETUP_TIMEOUT,
                   tls={"certificate": tls_files["server_cert"], "private_key": tls_files["server_key"]})
    silent = hostile(server.port, b"", sockets)
    time.sleep(0.3)
    assert echo(_tls_peer(tls_files, server.port)) == 0
    assert closed_by_server(silent, SETUP_TIMEOUT + SLACK)
    assert any("no TLS handshake within" in r.getMessage() for r in caplog.records)


@SQLITE_ONLY
def test_a_failed_tls_handshake_is_one_warning(serve: Callable[..., RunningServer], tls_files: dict[str, str],
                                               caplog: pytest.LogCaptureFixture) -> None:
    """A plain-TCP association request to the TLS port is refused in one WARNING line, no traceback."""
    caplog.set_level(logging.DEBUG)
    server = serve(tls={"certificate": tls_files["server_cert"], "private_key": tls_files["server_key"]})
    with pytest.raises(DicomClientError):
        echo(Peer("127.0.0.1", server.port, timeout=3))
    [line] = [r for r in caplog.records if "TLS handshake failed" in r.getMessage()]
    assert line.levelno == logging.WARNING and line.exc_info is None


@SQLITE_ONLY
def test_shutdown_is_prompt_with_half_open_connections(serve: Callable[..., RunningServer],
                                                       sockets: list[socket.socket]) -> None:
    """Stopping the server does not wait for peers that stopped in the middle of a PDU."""
    server = serve(association_timeout=60)
    request = association_request_bytes()
    for _ in range(3):
        hostile(server.port, request[:10], sockets)
    time.sleep(0.3)
    started = time.monotonic()
    server.shutdown()
    assert time.monotonic() - started < 5


@SQLITE_ONLY
def test_pynetdicom_settings_stay_with_our_associations(serve: Callable[..., RunningServer]) -> None:
    """Starting a server leaves pynetdicom's process-wide handler level alone; our associations drop its
    per-PDU log handlers unless its logger shows DEBUG, where they are kept."""
    from pynetdicom.sop_class import Verification

    from pylantir.dicom.client import association

    server = serve()
    assert _config.LOG_HANDLER_LEVEL == "standard"
    pynetdicom_log = logging.getLogger("pynetdicom")
    previous = pynetdicom_log.level
    try:
        for level, bound in ((logging.WARNING, False), (logging.DEBUG, True)):
            pynetdicom_log.setLevel(level)
            # the previous round's association ends in the server's own thread after the client released it
            deadline = time.monotonic() + 30
            while server.ae.active_associations and time.monotonic() < deadline:
                time.sleep(0.05)
            with association(Peer("127.0.0.1", server.port), Verification) as assoc:
                [accepted] = server.ae.active_associations
                handlers = [handler for handler, _args in accepted.get_handlers(evt.EVT_PDU_RECV)]
                assert (standard_pdu_recv_handler in handlers) is bound
                client_handlers = [handler for handler, _args in assoc.get_handlers(evt.EVT_PDU_RECV)]
                assert (standard_pdu_recv_handler in client_handlers) is bound
    finally:
        pynetdicom_log.setLevel(previous)
