"""``pylantir echo`` / ``pylantir find`` as site staff use them: TLS against a real TLS ``pylantir run``,
matching on patient and accession, and "today" in the site's time zone."""

from __future__ import annotations

import json
import ssl
import subprocess
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from pylantir.cli.main import cli
from pylantir.dicom.client import Peer
from pylantir.store import WorklistItem
from pylantir.sync.clock import site_today

from .conftest import PYLANTIR, free_port, serving

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def pylantir(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed console script."""
    return subprocess.run([*PYLANTIR, *args], check=False, capture_output=True, text=True, timeout=60)


@SQLITE_ONLY
def test_echo_and_find_speak_tls_to_a_tls_pylantir_run(add_items: Callable[..., list[WorklistItem]],
                                                        sqlite_url: str, tls_files: dict[str, str],
                                                        tmp_path: Path) -> None:
    """A `pylantir run` with mutual TLS: staff check it with the CA and a client certificate; without the
    certificate, without TLS or without the CA each attempt fails with a reason, never a traceback."""
    add_items({"patient_id": "TLS-1", "patient_name": "Secure^Sam", "accession_number": "ACC-TLS"})
    port = free_port()
    config = tmp_path / "tls.json"
    config.write_text(json.dumps({"database_url": sqlite_url, "server": {"port": port, "tls": {
        "certificate": tls_files["server_cert"], "private_key": tls_files["server_key"],
        "ca_certificates": tls_files["ca_cert"], "require_client_certificate": True}}}))
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=tls_files["ca_cert"])
    context.load_cert_chain(tls_files["client_cert"], tls_files["client_key"])
    client_tls = ["--tls-ca", tls_files["ca_cert"], "--tls-certificate", tls_files["client_cert"],
                  "--tls-key", tls_files["client_key"]]
    with serving(["run", "--config", str(config), "--no-sync", "--no-http"],
                 Peer("127.0.0.1", port, ssl_context=context)):
        echoed = pylantir("echo", "127.0.0.1", str(port), *client_tls)
        assert echoed.returncode == 0, echoed.stderr
        assert echoed.stdout == f"C-ECHO to ANY-SCP at 127.0.0.1:{port} over TLS: success\n"
        found = pylantir("find", "127.0.0.1", str(port), *client_tls, "--patient-id", "TLS-1", "--json")
        assert found.returncode == 0, found.stderr
        assert [r["AccessionNumber"] for r in json.loads(found.stdout)] == ["ACC-TLS"]
        failures = {
            "no client certificate": pylantir("echo", "127.0.0.1", str(port), "--tls-ca", tls_files["ca_cert"],
                                              "--timeout", "3"),
            "no TLS": pylantir("echo", "127.0.0.1", str(port), "--timeout", "3"),
            "unknown CA": pylantir("echo", "127.0.0.1", str(port), "--tls", "--timeout", "3"),
        }
    for why, result in failures.items():
        assert result.returncode == 1 and result.stderr.startswith("Error: "), why
        assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1, why
    assert "CERTIFICATE_VERIFY_FAILED" in failures["unknown CA"].stderr
    assert "--tls-certificate" in failures["no client certificate"].stderr


def test_tls_options_are_checked(tls_files: dict[str, str]) -> None:
    """A certificate without its key is a usage error; an unreadable CA file is named."""
    alone = CliRunner().invoke(cli, ["echo", "127.0.0.1", "11112", "--tls-certificate", tls_files["client_cert"]])
    assert alone.exit_code == 2 and "--tls-certificate and --tls-key go together" in alone.output
    not_pem = CliRunner().invoke(cli, ["echo", "127.0.0.1", "11112", "--tls-ca", __file__])
    assert not_pem.exit_code == 2 and "--tls-ca" in not_pem.output and "cannot load" in not_pem.output


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [("--patient-id", "PID-B", ["PID-B"]), ("--patient-id", "PID-*", ["PID-A", "PID-B"]),
     ("--patient-name", "doe^jane", ["PID-B"]), ("--patient-name", "Doe^*", ["PID-A", "PID-B"]),
     ("--accession", "ACC-A", ["PID-A"])],
)
def test_find_matches_patient_and_accession(add_items: Callable[..., list[WorklistItem]], peer: Peer, option: str,
                                            value: str, expected: list[str]) -> None:
    """`find` matches on patient ID, patient name (PN rules: case-insensitive, wild cards) and accession."""
    add_items({"patient_id": "PID-A", "patient_name": "Doe^John", "accession_number": "ACC-A"},
              {"patient_id": "PID-B", "patient_name": "Doe^Jane", "accession_number": "ACC-B"},
              {"patient_id": "OTHER", "patient_name": "Roe^Rita", "accession_number": "ACC-C"})
    result = CliRunner().invoke(cli, ["find", peer.host, str(peer.port), option, value, "--json"])
    assert result.exit_code == 0, result.output
    assert [r["PatientID"] for r in json.loads(result.output)] == expected


# UTC+14 and UTC-12: 26 hours apart, so their "today" always differ (and neither need be the machine's).
EAST, WEST = "Pacific/Kiritimati", "Etc/GMT+12"


@SQLITE_ONLY
def test_today_is_the_site_time_zones_everywhere(add_items: Callable[..., list[WorklistItem]], peer: Peer,
                                                 sqlite_url: str, tmp_path: Path) -> None:
    """`find --date today` takes the site time zone from --timezone or the configuration, as `worklist list`
    does; `tomorrow` is the day after in the same zone."""
    east, west = site_today(EAST), site_today(WEST)
    assert east != west
    dates = {"EAST": east, "WEST": west, "WEST+1": west + timedelta(days=1)}
    add_items(*({"patient_id": pid, "date": day.strftime("%Y%m%d")} for pid, day in dates.items()))
    config = tmp_path / "site.json"
    config.write_text(json.dumps({"database_url": sqlite_url, "timezone": WEST}))

    def found(*args: str) -> set[str]:
        result = CliRunner().invoke(cli, ["find", peer.host, str(peer.port), "--json", *args])
        assert result.exit_code == 0, result.output
        return {r["PatientID"] for r in json.loads(result.output)}

    def scheduled_on(day: date) -> set[str]:
        return {pid for pid, scheduled in dates.items() if scheduled == day}

    assert found("--date", "today", "--timezone", EAST) == scheduled_on(east)
    assert found("--date", "today", "--config", str(config)) == scheduled_on(west) == {"WEST"}
    assert found("--date", "TOMORROW", "--config", str(config)) == scheduled_on(west + timedelta(days=1))
    listed = CliRunner().invoke(cli, ["worklist", "list", "--config", str(config), "--date", "today", "--json"])
    assert [item["patient_id"] for item in json.loads(listed.output)] == ["WEST"]
    bad = CliRunner().invoke(cli, ["find", peer.host, str(peer.port), "--date", "today", "--timezone", "Mars/Base"])
    assert bad.exit_code == 2 and "--timezone" in bad.output and "unknown time zone" in bad.output


def test_v_adds_no_third_party_lines_to_find() -> None:
    """`pylantir -v find` against a closed port: our error only, none of pynetdicom's log lines."""
    result = pylantir("-v", "find", "127.0.0.1", str(free_port()), "--timeout", "2")
    assert result.returncode == 1
    assert "pynetdicom" not in result.stderr and "TCP Initialisation Error" not in result.stderr
