"""``pylantir worklist``: look at the worklist as modalities will see it.

The store (SQLAlchemy) is imported when a command runs, not when the CLI starts.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click

from pylantir.cli.context import config_option, load_config_or_exit
from pylantir.cli.database import open_database
from pylantir.cli.output import print_table
from pylantir.sync.clock import site_today

if TYPE_CHECKING:
    from pylantir.store.models import WorklistItem

#: The catalogue columns ``worklist list`` shows between the scheduled start and the source.
_LISTED = ("modality", "scheduled_station_aetitle", "patient_id", "patient_name", "accession_number",
           "scheduled_procedure_step_status")
#: The columns of ``worklist fields`` (and of the table in docs/configuration.md).
FIELD_HEADERS = ("target", "attribute", "keyword", "VR", "level", "type", "note")


@click.group("worklist")
def worklist_group() -> None:
    """Inspect the worklist."""


@worklist_group.command("list")
@config_option
@click.option(
    "--date",
    "when",
    metavar="today|YYYYMMDD|FROM-TO",
    help="Scheduled date: today (site time zone), one day, or a range (either end may be left out).",
)
@click.option("--modality", help="Only this modality, e.g. MR.")
@click.option("--source", help="Only entries from this data source.")
@click.option("--status", help="Only this procedure step status, e.g. SCHEDULED.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_items(
    config_path: Path,
    when: str | None,
    modality: str | None,
    source: str | None,
    status: str | None,
    as_json: bool,
) -> None:
    """List worklist items by scheduled start, optionally filtered."""
    from pylantir.store.queries import WorklistFilter, list_worklist

    config = load_config_or_exit(config_path)
    date_from, date_to = parse_date_option(when, ZoneInfo(config.timezone)) if when else (None, None)
    criteria = WorklistFilter(date_from, date_to, modality, source, status)
    database = open_database(config, "current")
    try:
        with database.session() as session:
            items = list_worklist(session, criteria)
    finally:
        database.close()
    if as_json:
        click.echo(json.dumps([_as_dict(item) for item in items], indent=2))
        return
    from pylantir.store.catalogue import attribute

    headers = ["scheduled", *(attribute(column).label for column in _LISTED), "source"]
    print_table(headers, [_row(item) for item in items], empty="No worklist items match.")


@worklist_group.command("fields")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_fields(as_json: bool) -> None:
    """List every field_mapping target: the DICOM attribute it fills, where it goes in a C-FIND response.

    Per target: the attribute's tag and name, keyword and VR; its level in the identifier (top, the
    Scheduled Procedure Step item, or a code sequence); its return key type (PS3.4 Table K.6-1) and what
    stands in when nothing is stored.
    """
    rows = field_rows()
    if as_json:
        click.echo(json.dumps([dict(zip(FIELD_HEADERS, row, strict=True)) for row in rows], indent=2))
        return
    print_table(FIELD_HEADERS, rows, empty="No targets.")


def field_rows() -> list[list[str]]:
    """One row of :data:`FIELD_HEADERS` per ``field_mapping`` target, from the catalogue."""
    from pylantir.store.catalogue import target_names

    rows = [
        [found.name, f"{entry.tag_text} {entry.name}", entry.keyword, entry.vr, entry.where, entry.returned,
         found.note]
        for found in target_names()
        for entry in [found.attribute]
    ]
    rows.append(["extra.<Keyword>", "any other attribute (no sequence or bulk data)", "<Keyword>", "its own",
                 "top, or SPS item", "", "SPS item: attributes of the SPS item, e.g. RequestedContrastAgent"])
    return rows


def parse_date_option(value: str, zone: ZoneInfo) -> tuple[str | None, str | None]:
    """``today`` / ``YYYYMMDD`` / ``FROM-TO`` (either end optional) -> inclusive ``YYYYMMDD`` bounds."""
    if value.lower() == "today":
        today = site_today(zone.key).strftime("%Y%m%d")
        return today, today
    if "-" not in value:
        day = _day(value)
        return day, day
    start, _, end = value.partition("-")
    bounds = (_day(start) if start else None, _day(end) if end else None)
    if bounds == (None, None):
        raise click.BadParameter("a range needs at least one end, e.g. 20250101-", param_hint="--date")
    if bounds[0] and bounds[1] and bounds[0] > bounds[1]:
        raise click.BadParameter(f"the range {value} ends before it starts", param_hint="--date")
    return bounds


def _day(text: str) -> str:
    try:
        return datetime.strptime(text, "%Y%m%d").strftime("%Y%m%d")
    except ValueError:
        raise click.BadParameter(
            f"'{text}' is not a date; use today, YYYYMMDD or FROM-TO (e.g. 20250101-20250131)",
            param_hint="--date",
        ) from None


def _row(item: WorklistItem) -> list[object]:
    return [
        _scheduled(item),
        item.modality,
        item.scheduled_station_aetitle,
        item.patient_id,
        item.patient_name,
        item.accession_number,
        item.scheduled_procedure_step_status,
        item.source_name,
    ]


def _scheduled(item: WorklistItem) -> str:
    day = item.scheduled_start_date
    shown = f"{day[:4]}-{day[4:6]}-{day[6:8]}" if len(day) == 8 else day
    clock = item.scheduled_start_time or ""
    return f"{shown} {clock[:2]}:{clock[2:4]}" if len(clock) >= 4 else shown


def _as_dict(item: WorklistItem) -> dict[str, Any]:
    from sqlalchemy import inspect

    return {column.key: _json_value(getattr(item, column.key)) for column in inspect(type(item)).column_attrs}


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (date, datetime)) else value
