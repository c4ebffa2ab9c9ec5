"""Which REDCap fields to export, checked against the project's metadata (data dictionary).

Records carry export field names: the metadata's ``field_name`` values, ``<form>_complete``, one
``<field>___<code>`` per checkbox option, and REDCap's own ``redcap_*`` columns. The API is asked for
the metadata names (a checkbox by its base name); names the project does not know are reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Key of the nested mapping each record carries with values from the source's config
#: (``{_source.site_id}``, ``{_source.protocol}``). REDCap field names cannot start with ``_``.
SOURCE_KEY = "_source"

#: Columns REDCap adds to exported rows by itself (not in the metadata, never requested).
PSEUDO_FIELDS = frozenset(
    {"redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance", "redcap_survey_identifier"}
)
DAG_FIELD = "redcap_data_access_group"


@dataclass(frozen=True)
class ExportFields:
    """What to ask REDCap for: field names, whether to add the DAG column, and the unknown names."""

    request: list[str]
    with_dag: bool
    unknown: list[str]


def record_id_field(metadata: Sequence[Mapping[str, Any]]) -> str:
    """The project's record ID field: the first field of the data dictionary."""
    return str(metadata[0]["field_name"])


def export_fields(metadata: Sequence[Mapping[str, Any]], wanted: Iterable[str]) -> ExportFields:
    """Resolve the source fields the mapping and selection read into the fields to request."""
    names = {str(row["field_name"]) for row in metadata}
    forms_complete = {f"{row['form_name']}_complete" for row in metadata}
    checkboxes = {str(row["field_name"]) for row in metadata if row.get("field_type") == "checkbox"}
    request: list[str] = [record_id_field(metadata)] if metadata else []
    unknown: list[str] = []
    with_dag = False
    for field in sorted(set(wanted) - {SOURCE_KEY} - PSEUDO_FIELDS):
        base = field.split("___", 1)[0]
        if field == DAG_FIELD:
            with_dag = True
        elif field in names or field in forms_complete:
            request.append(field)
        elif "___" in field and base in checkboxes:
            request.append(base)
        else:
            unknown.append(field)
    return ExportFields(list(dict.fromkeys(request)), with_dag, unknown)
