"""C-ECHO, access control (calling/called AE titles) and DICOM TLS over real loopback associations."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from typing import Any

import pytest
from pydicom import Dataset

from pylantir.config import PylantirConfig
from pylantir.dicom import RunningServer, ServerStartError, start_server
from pylantir.dicom.client import DicomClientError, Peer, echo, find
from pylantir.store import Database, WorklistItem

# Access control, TLS and dcmtk do not depend on the database backend.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
def test_echo(peer: Peer) -> None:
    """C-ECHO is answered with Success."""
    assert echo(peer) == 0x0000


@SQLITE_ONLY
def test_calling_ae_allow_list(serve: Callable[..., RunningServer]) -> None:
    """Only listed calling AE titles may associate; others are rejected at association."""
    server = serve(allowed_aets=["MR1", "CT1"])
    assert echo(Peer("127.0.0.1", server.port, calling_ae="MR1")) == 0
    with pytest.raises(DicomClientError, match="rejected"):
        echo(Peer("127.0.0.1", server.port, calling_ae="INTRUDER"))


@SQLITE_ONLY
def test_called_ae_title_check(serve: Callable[..., RunningServer]) -> None:
    """With check_called_ae_title, a wrong called AE title is rejected; ours is accepted."""
    server = serve(ae_title="WORKLIST", check_called_ae_title=True)
    assert echo(Peer("127.0.0.1", server.port, called_ae="WORKLIST")) == 0
    with pytest.raises(DicomClientError, match="rejected"):
        echo(Peer("127.0.0.1", server.port, called_ae="SOMEONE"))
    assert echo(Peer("127.0.0.1", serve(ae_title="WORKLIST").port, called_ae="SOMEONE")) == 0


def _client_context(files: dict[str, str], with_certificate: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=files["ca_cert"])
    if with_certificate:
        context.load_cert_chain(files["client_cert"], files["client_key"])
    return context


@SQLITE_ONLY
def test_tls_with_client_certificates(serve: Callable[..., RunningServer], tls_files: dict[str, str],
                                      add_items: Callable[..., list[WorklistItem]]) -> None:
    """Over TLS a client with a CA-signed certificate queries; one without a certificate cannot."""
    add_items({"patient_id": "TLS1"})
    server = serve(tls={"certificate": tls_files["server_cert"], "private_key": tls_files["server_key"],
                        "ca_certificates": tls_files["ca_cert"], "require_client_certificate": True})
    secure = Peer("127.0.0.1", server.port, ssl_context=_client_context(tls_files, True))
    identifier = Dataset()
    identifier.PatientID = ""
    assert [str(r.PatientID) for r in find(secure, identifier)] == ["TLS1"]
    with pytest.raises(DicomClientError):
        echo(Peer("127.0.0.1", server.port, ssl_context=_client_context(tls_files, False), timeout=3))
    with pytest.raises(DicomClientError):
        echo(Peer("127.0.0.1", server.port, timeout=3))


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("tls", "setting"),
    [
        ({"certificate": "missing.pem", "private_key": "missing.key"}, "server.tls.certificate"),
        ({"certificate": "{server_cert}", "private_key": "{server_key}", "ca_certificates": "nope.pem"},
         "server.tls.ca_certificates"),
        ({"certificate": "{server_cert}", "private_key": "{server_key}", "require_client_certificate": True},
         "server.tls.require_client_certificate"),
    ],
)
def test_bad_tls_settings_name_the_setting(database: Database, tls_files: dict[str, str], tls: dict[str, Any],
                                           setting: str) -> None:
    """Unusable TLS files stop the start with a message naming the config path."""
    tls = {key: value.format(**tls_files) if isinstance(value, str) else value for key, value in tls.items()}
    config = PylantirConfig.model_validate({"server": {"tls": tls}})
    with pytest.raises(ServerStartError, match=setting):
        start_server(config, database, port=0)


@SQLITE_ONLY
def test_port_in_use_is_a_clear_error(serve: Callable[..., RunningServer], database: Database) -> None:
    """Listening on a taken port fails with the host and port named."""
    taken = serve().port
    with pytest.raises(ServerStartError, match=f"127.0.0.1:{taken}"):
        start_server(PylantirConfig(), database, port=taken)


@SQLITE_ONLY
@pytest.mark.parametrize("requested", [b"\x01\x01", None], ids=["sub-item", "no-sub-item"])
def test_sop_class_extended_negotiation(peer: Peer, requested: bytes | None) -> None:
    """Fuzzy PN matching and timezone adjustment are declined with zeros; no sub-item, no answer (K.5.1)."""
    from pynetdicom import AE
    from pynetdicom.pdu_primitives import SOPClassExtendedNegotiation
    from pynetdicom.sop_class import ModalityWorklistInformationFind

    ae = AE(ae_title="MR1")
    ae.add_requested_context(ModalityWorklistInformationFind)
    items = []
    if requested is not None:
        item = SOPClassExtendedNegotiation()
        item.sop_class_uid = ModalityWorklistInformationFind
        item.service_class_application_information = requested
        items.append(item)
    assoc = ae.associate(peer.host, peer.port, ext_neg=items)
    try:
        assert assoc.is_established
        answered = [i for i in assoc.acceptor.user_information if isinstance(i, SOPClassExtendedNegotiation)]
        expected = [(ModalityWorklistInformationFind, b"\x00\x00")] if requested is not None else []
        assert [(i.sop_class_uid, i.service_class_application_information) for i in answered] == expected
    finally:
        assoc.release()


@SQLITE_ONLY
def test_association_limit(serve: Callable[..., RunningServer]) -> None:
    """server.max_associations bounds concurrent associations; the next one is rejected, later ones pass."""
    from pynetdicom.sop_class import Verification

    from pylantir.dicom.client import association

    server = serve(max_associations=1)
    peer = Peer("127.0.0.1", server.port, timeout=5)
    with association(peer, Verification):
        with pytest.raises(DicomClientError, match="rejected"):
            echo(peer)
    # The server frees the slot once the released association's thread has ended (bounded wait).
    for _ in range(50):
        try:
            assert echo(peer) == 0
            return
        except DicomClientError:
            time.sleep(0.1)
    pytest.fail("the association slot was not freed after release")
