"""``pylantir echo`` and ``pylantir find``: check a worklist server (ours or another) from the command line.

pydicom/pynetdicom are imported when a command runs, so that ``pylantir --help`` stays fast.
"""

from __future__ import annotations

import json
from datetime import date as Date
from typing import TYPE_CHECKING, Any

import click

from pylantir.cli.output import print_table

if TYPE_CHECKING:
    from pydicom import Dataset

COLUMNS = (
    ("Date", "ScheduledProcedureStepStartDate"), ("Time", "ScheduledProcedureStepStartTime"),
    ("Modality", "Modality"), ("Station AE", "ScheduledStationAETitle"), ("Patient ID", "PatientID"),
    ("Patient name", "PatientName"), ("Accession", "AccessionNumber"), ("SPS ID", "ScheduledProcedureStepID"),
    ("Description", "ScheduledProcedureStepDescription"), ("Status", "ScheduledProcedureStepStatus"),
)

peer_options = [
    click.argument("host"),
    click.argument("port", type=click.IntRange(1, 65535)),
    click.option("--calling-ae", default="PYLANTIR_SCU", show_default=True, help="Our AE title."),
    click.option("--called-ae", default="ANY-SCP", show_default=True, help="The server's AE title."),
    click.option("--timeout", default=10.0, show_default=True, help="Network timeout in seconds."),
]


def with_peer(command: Any) -> Any:
    """Add the HOST PORT arguments and the AE title / timeout options shared by the client commands."""
    for option in reversed(peer_options):
        command = option(command)
    return command


def _date_key(value: str | None) -> str:
    if not value:
        return ""
    if value.lower() == "today":
        return Date.today().strftime("%Y%m%d")
    from pylantir.dicom.matching import InvalidIdentifier, parse_date_range

    try:
        parse_date_range(value, "--date")
    except InvalidIdentifier as exc:
        raise click.BadParameter(f"{value!r}: use today, YYYYMMDD or a range YYYYMMDD-YYYYMMDD", param_hint="--date") \
            from exc
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
def echo_command(host: str, port: int, calling_ae: str, called_ae: str, timeout: float) -> None:
    """Send a C-ECHO (DICOM verification) to HOST PORT; exit non-zero unless it succeeds."""
    from pylantir.dicom.client import DicomClientError, Peer, echo

    try:
        status = echo(Peer(host, port, calling_ae, called_ae, timeout=timeout))
    except DicomClientError as exc:
        raise click.ClickException(str(exc)) from exc
    if status != 0:
        raise click.ClickException(f"C-ECHO answered with status 0x{status:04X}")
    click.echo(f"C-ECHO to {called_ae} at {host}:{port}: success")


@click.command("find")
@with_peer
@click.option("--date", help="Scheduled date: today, YYYYMMDD or a range YYYYMMDD-YYYYMMDD (default: any).")
@click.option("--modality", default="", help="Modality, e.g. MR (default: any).")
@click.option("--station", default="", help="Scheduled Station AE Title (default: any).")
@click.option("--json", "as_json", is_flag=True, help="Print the items as JSON instead of a table.")
def find_command(
    host: str, port: int, calling_ae: str, called_ae: str, timeout: float, date: str | None, modality: str,
    station: str, as_json: bool,
) -> None:
    """Query the Modality Worklist at HOST PORT (C-FIND) and print the scheduled procedure steps."""
    from pylantir.dicom.client import DicomClientError, Peer, find, worklist_identifier

    identifier = worklist_identifier(_date_key(date), modality, station)
    try:
        results = [_flat(r) for r in find(Peer(host, port, calling_ae, called_ae, timeout=timeout), identifier)]
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
