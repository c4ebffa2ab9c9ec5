"""``pylantir echo``, ``pylantir find`` and ``pylantir mpps``: check a worklist server (ours or another) from the
command line.

pydicom/pynetdicom are imported when a command runs, so that ``pylantir --help`` stays fast.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pylantir.cli.output import print_table

if TYPE_CHECKING:
    import ssl

    from pydicom import Dataset

    from pylantir.dicom.client import Peer

COLUMNS = (
    ("Date", "ScheduledProcedureStepStartDate"), ("Time", "ScheduledProcedureStepStartTime"),
    ("Modality", "Modality"), ("Station AE", "ScheduledStationAETitle"), ("Patient ID", "PatientID"),
    ("Patient name", "PatientName"), ("Accession", "AccessionNumber"), ("SPS ID", "ScheduledProcedureStepID"),
    ("Description", "ScheduledProcedureStepDescription"), ("Status", "ScheduledProcedureStepStatus"),
)
RELATIVE_DAYS = {"today": 0, "tomorrow": 1}

_file = click.Path(exists=True, dir_okay=False, path_type=Path)
peer_options = [
    click.argument("host"),
    click.argument("port", type=click.IntRange(1, 65535)),
    click.option("--calling-ae", default="PYLANTIR_SCU", show_default=True, help="Our AE title."),
    click.option("--called-ae", default="ANY-SCP", show_default=True, help="The server's AE title."),
    click.option("--timeout", default=10.0, show_default=True, help="Network timeout in seconds."),
    click.option("--tls", is_flag=True, help="Use DICOM TLS; the server is verified against the system's CAs."),
    click.option("--tls-ca", type=_file, help="Verify the server against these CA certificates (PEM); implies --tls."),
    click.option("--tls-certificate", type=_file, help="Our certificate (PEM) for mutual TLS; implies --tls."),
    click.option("--tls-key", type=_file, help="The private key (PEM) of --tls-certificate."),
]


def with_peer(command: Any) -> Any:
    """Add HOST PORT and the AE title, timeout and TLS options shared by the client commands."""
    for option in reversed(peer_options):
        command = option(command)
    return command


def _ssl_context(tls: bool, ca: Path | None, certificate: Path | None, key: Path | None) -> ssl.SSLContext | None:
    """The client TLS context the options ask for, or None (plain TCP)."""
    if not (tls or ca or certificate or key):
        return None
    if (certificate is None) != (key is None):
        raise click.UsageError("--tls-certificate and --tls-key go together")
    import ssl

    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    except (OSError, ssl.SSLError) as exc:
        raise click.BadParameter(f"cannot load {ca}: {exc}", param_hint="--tls-ca") from exc
    if certificate is not None:
        try:
            context.load_cert_chain(certificate, key)
        except (OSError, ssl.SSLError) as exc:
            raise click.BadParameter(f"cannot load {certificate} with {key}: {exc}",
                                     param_hint="--tls-certificate / --tls-key") from exc
    return context


def _peer(host: str, port: int, calling_ae: str, called_ae: str, timeout: float, tls: bool, tls_ca: Path | None,
          tls_certificate: Path | None, tls_key: Path | None) -> Peer:
    from pylantir.dicom.client import Peer

    return Peer(host, port, calling_ae, called_ae, _ssl_context(tls, tls_ca, tls_certificate, tls_key), timeout)


def site_timezone(timezone: str | None, config_path: Path | None) -> str:
    """``--timezone``, else the configuration's ``timezone`` (``--config`` / ``PYLANTIR_CONFIG``), else UTC."""
    if timezone:
        from pylantir.validation import known_time_zone

        try:
            return known_time_zone(timezone)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--timezone") from None
    if config_path is not None:
        from pylantir.cli.context import load_config_or_exit

        return load_config_or_exit(config_path).timezone
    from pylantir.config import PylantirConfig

    return str(PylantirConfig.model_fields["timezone"].default)


def date_key(value: str | None, timezone: str | None, config_path: Path | None) -> str:
    """``--date`` as a DICOM date key: ``today`` / ``tomorrow`` in the site time zone, a date or a range."""
    if not value:
        return ""
    if value.lower() in RELATIVE_DAYS:
        from pylantir.sync.clock import site_today

        day = site_today(site_timezone(timezone, config_path)) + timedelta(days=RELATIVE_DAYS[value.lower()])
        return day.strftime("%Y%m%d")
    from pylantir.dicom.matching import InvalidIdentifier, parse_date_range

    try:
        parse_date_range(value, "--date")
    except InvalidIdentifier as exc:
        raise click.BadParameter(f"{value!r}: {exc}; use today, tomorrow, YYYYMMDD or a range YYYYMMDD-YYYYMMDD",
                                 param_hint="--date") from exc
    return value


def _flat(identifier: Dataset) -> dict[str, str]:
    """Keyword -> text, with the Scheduled Procedure Step item's attributes lifted to the top level."""
    record: dict[str, str] = {}
    for element in identifier:
        if element.keyword == "ScheduledProcedureStepSequence":
            for item in element.value[:1]:
                record.update(_flat(item))
        elif element.VR != "SQ" and element.keyword != "SpecificCharacterSet":
            record[element.keyword] = "" if element.value is None else str(element.value)
    return record


@click.command("echo")
@with_peer
def echo_command(host: str, port: int, calling_ae: str, called_ae: str, timeout: float, tls: bool,
                 tls_ca: Path | None, tls_certificate: Path | None, tls_key: Path | None) -> None:
    """Send a C-ECHO (DICOM verification) to HOST PORT; exit non-zero unless it succeeds.

    A health check for our server or any other: the error says whether nothing listens, the TLS handshake
    failed or the association was rejected (and why).
    """
    from pylantir.dicom.client import DicomClientError, echo

    peer = _peer(host, port, calling_ae, called_ae, timeout, tls, tls_ca, tls_certificate, tls_key)
    try:
        status = echo(peer)
    except DicomClientError as exc:
        raise click.ClickException(str(exc)) from exc
    if status != 0:
        raise click.ClickException(f"C-ECHO answered with status 0x{status:04X}")
    click.echo(f"C-ECHO to {called_ae} at {host}:{port}{' over TLS' if peer.ssl_context else ''}: success")


@click.command("find")
@with_peer
@click.option("--date", help="Scheduled date: today, tomorrow (site time zone), YYYYMMDD or a range "
                             "YYYYMMDD-YYYYMMDD (default: any).")
@click.option("--modality", default="", help="Modality, e.g. MR (default: any).")
@click.option("--station", default="", help="Scheduled Station AE Title (default: any).")
@click.option("--patient-id", default="", help="Patient ID (wild cards * and ? allowed).")
@click.option("--patient-name", default="", help="Patient's name, e.g. 'Doe^J*' (case-insensitive by default).")
@click.option("--accession", default="", help="Accession Number.")
@click.option("--timezone", help="Site time zone for today/tomorrow (default: the configuration's, else UTC).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), envvar="PYLANTIR_CONFIG",
              help="Configuration file whose timezone today/tomorrow use. Default: $PYLANTIR_CONFIG.")
@click.option("--json", "as_json", is_flag=True, help="Print the items as JSON instead of a table.")
def find_command(
    host: str, port: int, calling_ae: str, called_ae: str, timeout: float, tls: bool, tls_ca: Path | None,
    tls_certificate: Path | None, tls_key: Path | None, date: str | None, modality: str, station: str,
    patient_id: str, patient_name: str, accession: str, timezone: str | None, config_path: Path | None,
    as_json: bool,
) -> None:
    """Query the Modality Worklist at HOST PORT (C-FIND) and print the scheduled procedure steps."""
    from pylantir.dicom.client import DicomClientError, find, worklist_identifier

    identifier = worklist_identifier(date_key(date, timezone, config_path), modality, station)
    identifier.PatientID = patient_id
    identifier.PatientName = patient_name
    identifier.AccessionNumber = accession
    peer = _peer(host, port, calling_ae, called_ae, timeout, tls, tls_ca, tls_certificate, tls_key)
    try:
        results = [_flat(r) for r in find(peer, identifier)]
    except DicomClientError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(results, indent=2, ensure_ascii=False))
        return
    print_table(
        [header for header, _ in COLUMNS],
        [[r.get(keyword, "") for _, keyword in COLUMNS] for r in results],
        empty="No matching worklist items.",
    )


@click.group("mpps")
def mpps_group() -> None:
    """Send a Modality Performed Procedure Step as a modality does (to test a worklist server)."""


@mpps_group.command("create")
@with_peer
@click.option("--study-uid", required=True, help="Study Instance UID of the exam (from its worklist entry).")
@click.option("--modality", default="MR", show_default=True, help="Modality of the performed step.")
def mpps_create(host: str, port: int, calling_ae: str, called_ae: str, timeout: float, tls: bool,
                tls_ca: Path | None, tls_certificate: Path | None, tls_key: Path | None, study_uid: str,
                modality: str) -> None:
    """N-CREATE an MPPS instance IN PROGRESS for the exam of --study-uid at HOST PORT, as a modality does when
    it starts the exam; prints the instance's SOP Instance UID, which `pylantir mpps set` needs."""
    from datetime import datetime

    from pylantir.dicom.client import DicomClientError, mpps_in_progress

    peer = _peer(host, port, calling_ae, called_ae, timeout, tls, tls_ca, tls_certificate, tls_key)
    try:
        sop_instance_uid = mpps_in_progress(peer, study_uid, modality, datetime.now())
    except DicomClientError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"MPPS N-CREATE for Study Instance UID {study_uid}: IN PROGRESS, SOP Instance UID {sop_instance_uid}")


@mpps_group.command("set")
@with_peer
@click.argument("sop_instance_uid")
@click.option("--status", type=click.Choice(["COMPLETED", "DISCONTINUED"]), required=True,
              help="How the performed step ends.")
@click.option("--protocol", default="PYLANTIR TEST", show_default=True,
              help="Protocol Name of the one performed series sent.")
def mpps_set(host: str, port: int, calling_ae: str, called_ae: str, timeout: float, tls: bool,
             tls_ca: Path | None, tls_certificate: Path | None, tls_key: Path | None, sop_instance_uid: str,
             status: str, protocol: str) -> None:
    """N-SET the MPPS instance SOP_INSTANCE_UID at HOST PORT to --status, as a modality does when the exam
    ends (with the end date and time and one performed series)."""
    from datetime import datetime

    from pylantir.dicom.client import DicomClientError, mpps_final

    peer = _peer(host, port, calling_ae, called_ae, timeout, tls, tls_ca, tls_certificate, tls_key)
    try:
        mpps_final(peer, sop_instance_uid, status, protocol, datetime.now())
    except DicomClientError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"MPPS N-SET of {sop_instance_uid}: {status}")
