"""Fixtures for the DICOM server tests: a real database file, a real server on loopback, item factories."""

from __future__ import annotations

import ipaddress
import itertools
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydicom import Dataset
from pydicom.sequence import Sequence

from pylantir.config import PylantirConfig
from pylantir.dicom import RunningServer, start_server
from pylantir.dicom.client import Peer
from pylantir.store import Database, WorklistItem
from pylantir.testing import PYLANTIR, free_port, running_pylantir

__all__ = ["PYLANTIR", "free_port", "serving"]

_counter = itertools.count(1)


def _item(**values: Any) -> WorklistItem:
    n = next(_counter)
    date = values.pop("date", "20260105")
    time = values.pop("time", "100000")
    fields: dict[str, Any] = {
        "identity": f"test:{n}",
        "source_name": "test",
        "content_hash": "x",
        "patient_id": f"PID{n}",
        "patient_name": f"Patient^Number{n}",
        "study_instance_uid": f"1.2.826.0.1.3680043.10.999.{n}",
        "accession_number": f"ACC{n}",
        "requested_procedure_id": f"RP{n}",
        "scheduled_procedure_step_id": f"SPS{n}",
        "modality": "MR",
        "scheduled_station_aetitle": "MR1",
        "scheduled_start_date": date,
        "scheduled_start_time": time,
        "scheduled_start": date + time,
    }
    fields.update(values)
    return WorklistItem(**fields)



@pytest.fixture
def add_items(database: Database) -> Callable[..., list[WorklistItem]]:
    """Insert worklist items (keyword overrides per item; ``date``/``time`` fill the start columns)."""

    def add(*overrides: dict[str, Any]) -> list[WorklistItem]:
        items = [_item(**dict(o)) for o in overrides]
        with database.session() as session:
            session.add_all(items)
        return items

    return add


@pytest.fixture
def serve(database: Database) -> Iterator[Callable[..., RunningServer]]:
    """Start servers on free loopback ports (``serve(**server_settings)``); all are shut down after."""
    running: list[RunningServer] = []

    def start(config: PylantirConfig | None = None, **server: Any) -> RunningServer:
        cfg = config or PylantirConfig.model_validate({"server": server})
        instance = start_server(cfg, database, port=0)
        running.append(instance)
        return instance

    yield start
    for instance in running:
        instance.shutdown()


@pytest.fixture
def peer(serve: Callable[..., RunningServer]) -> Peer:
    """A client's view of a default server."""
    return Peer("127.0.0.1", serve().port)


@pytest.fixture
def query() -> Callable[..., Dataset]:
    """Build an identifier: ``query(top_level_keys, sps={...} or None)``; values '' ask for return keys."""

    def build(top: dict[str, Any] | None = None, sps: dict[str, Any] | None = None) -> Dataset:
        identifier = Dataset()
        for keyword, value in (top or {}).items():
            setattr(identifier, keyword, value)
        if sps is not None:
            step = Dataset()
            for keyword, value in sps.items():
                setattr(step, keyword, value)
            identifier.ScheduledProcedureStepSequence = Sequence([step])
        return identifier

    return build


@pytest.fixture
def tls_files(tmp_path: Path) -> dict[str, str]:
    """A test CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)

    def issue(name: str, issuer: tuple[Any, Any] | None, *, ca: bool = False) -> tuple[Any, Any]:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        signer_cert, signer_key = issuer if issuer else (None, key)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(signer_cert.subject if signer_cert else subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
            )
        return builder.sign(signer_key, hashes.SHA256()), key

    ca = issue("Pylantir test CA", None, ca=True)
    paths: dict[str, str] = {}
    for name, (cert, key) in {"ca": ca, "server": issue("server", ca), "client": issue("client", ca)}.items():
        cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        paths[f"{name}_cert"], paths[f"{name}_key"] = str(cert_path), str(key_path)
    return paths


def association_request_bytes(calling_ae: str = "MR1") -> bytes:
    """A real A-ASSOCIATE-RQ PDU as pynetdicom sends it, captured on a loopback socket."""
    import threading

    from pynetdicom import AE
    from pynetdicom.sop_class import Verification

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        ae = AE(ae_title=calling_ae)
        ae.add_requested_context(Verification)
        ae.acse_timeout = ae.network_timeout = 2
        requester = threading.Thread(target=ae.associate, args=("127.0.0.1", listener.getsockname()[1]))
        requester.start()
        connection, _ = listener.accept()
        with connection:
            header = _receive(connection, 6)
            pdu = header + _receive(connection, int.from_bytes(header[2:6], "big"))
        requester.join()
    return pdu


def _receive(connection: Any, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = connection.recv(count - len(data))
        if not chunk:
            raise AssertionError("the connection closed early")
        data += chunk
    return data


def send_raw_request(assoc: Any, request: Any) -> list[Any]:
    """Send a DIMSE request primitive whose dataset bytes we made (pynetdicom would encode a Dataset).

    The association's reactor is paused meanwhile, as pynetdicom's own ``send_*`` methods do, so that the
    responses come to us; returns every response primitive up to the first non-pending one.
    """

    context_id = assoc.accepted_contexts[0].context_id
    assoc._reactor_checkpoint.clear()
    while not assoc._is_paused:
        time.sleep(0.0001)
    responses = []
    try:
        assoc.dimse.send_msg(request, context_id)
        while True:
            _context, response = assoc.dimse.get_msg(block=True)
            if response is None:
                raise AssertionError("no response within the DIMSE timeout")
            responses.append(response)
            if response.Status not in (0xFF00, 0xFF01):
                return responses
    finally:
        assoc._reactor_checkpoint.set()


def explicit_element(tag: int, vr: str, value: bytes) -> bytes:
    """One data element in Explicit VR Little Endian, with the VR we choose (padded to even length)."""
    import struct

    if len(value) % 2:
        value += b"\0" if vr == "UI" else b" "
    if vr in ("OB", "OW", "SQ", "UN", "UT", "UC", "UR"):
        return struct.pack("<HH2sHL", tag >> 16, tag & 0xFFFF, vr.encode(), 0, len(value)) + value
    return struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr.encode(), len(value)) + value


def serving(args: list[str], peer: Peer, startup: float = 30) -> Any:
    """``pylantir ARGS`` (a ``run``) as a process, yielded once ``peer`` gets a C-ECHO answered; then SIGTERM."""
    return running_pylantir(args, peer.port, peer.host, startup, peer=peer)
