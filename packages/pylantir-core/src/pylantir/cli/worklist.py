"""``pylantir worklist``: look at the worklist as modalities will see it.

The store (SQLAlchemy) is imported when a command runs, not when the CLI starts.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
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
_LISTED = ("modality", "scheduled_station_aetitle", "patient_id", "patient_name", "patient_birth_date",
           "patient_sex", "accession_number", "scheduled_procedure_step_status")
#: ``--date`` words, as days after the site's today.
_RELATIVE_DAYS = {"today": 0, "tomorrow": 1}
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
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
    metavar="today|tomorrow|YYYY-MM-DD|YYYYMMDD|FROM-TO",
    help="Scheduled date: today or tomorrow (site time zone), one day (YYYY-MM-DD or YYYYMMDD), or a range "
         "YYYYMMDD-YYYYMMDD (either end may be left out).",
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
    """List worklist items by scheduled start, optionally filtered.

    Reads the database only: it must exist at this version's schema (see `pylantir db upgrade`).
    """
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
    """``today`` / ``tomorrow`` / ``YYYY-MM-DD`` / ``YYYYMMDD`` / ``FROM-TO`` (either end optional) ->
    inclusive ``YYYYMMDD`` bounds."""
    if (offset := _RELATIVE_DAYS.get(value.lower())) is not None:
        day = (site_today(zone.key) + timedelta(days=offset)).strftime("%Y%m%d")
        return day, day
    if _ISO_DAY.fullmatch(value):
        day = _day(value.replace("-", ""))
        return day, day
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
            f"'{text}' is not a date; use today, tomorrow, YYYY-MM-DD, YYYYMMDD or FROM-TO "
            "(e.g. 20250101-20250131)",
            param_hint="--date",
        ) from None


def _row(item: WorklistItem) -> list[object]:
    values = {column: getattr(item, column) for column in _LISTED}
    values["patient_birth_date"] = _shown_day(values["patient_birth_date"])
    return [_scheduled(item), *values.values(), item.source_name]


def _shown_day(day: str | None) -> str | None:
    """A DICOM date ``YYYYMMDD`` as ``YYYY-MM-DD`` (anything else as it is)."""
    return f"{day[:4]}-{day[4:6]}-{day[6:8]}" if day and len(day) == 8 else day


def _scheduled(item: WorklistItem) -> str:
    shown = _shown_day(item.scheduled_start_date)
    clock = item.scheduled_start_time or ""
    return f"{shown} {clock[:2]}:{clock[2:4]}" if len(clock) >= 4 else str(shown)


def _as_dict(item: WorklistItem) -> dict[str, Any]:
    from sqlalchemy import inspect

    return {column.key: _json_value(getattr(item, column.key)) for column in inspect(type(item)).column_attrs}


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (date, datetime)) else value
