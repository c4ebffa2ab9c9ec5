"""The previous Pylantir's worklist (PyPI ``pylantir`` 0.3.x-0.4.6), imported into ours once.

The first upgrade of such a database keeps its ``worklist_items`` table as ``legacy_worklist_items``
(migration 0001). :func:`import_previous_worklist` (run by ``pylantir db upgrade`` and ``pylantir run``)
then copies every row of it into the worklist, in one transaction, once (``previous_imports`` records it;
the old table stays as a backup):

- the source: the row's ``data_source`` when a configured source has that name (0.4.x wrote the source's
  name); 0.3.x wrote ``REDCap`` (or nothing) for every REDCap row, which goes to the one configured source of
  type ``redcap`` (for a ``redcap2wl`` file, ``redcap_legacy``); any other row keeps its ``data_source``
  (``previous`` when it has none) as an unconfigured source, served until housekeeping expires it;
- the values, through the sync's own normalisation (the row's columns are ``field_mapping`` targets of the
  same names): a value DICOM cannot hold (a sex coded ``1``) is left empty, not the row; the weight is
  not imported (the previous default of 100 was sent as kilograms whatever the patient weighed);
- the status: the previous Pylantir's performed-step status (``IN_PROGRESS``/``IN PROGRESS`` is STARTED
  now); any status but SCHEDULED was set by a scanner's MPPS, so it is marked as MPPS-owned and no sync
  changes it (a COMPLETED exam stays COMPLETED, off the worklist);
- the identity ``previous:<row id>`` until the source's next sync meets the record of the same entry:
  the plugin owning the source's type says what that record carries (hook ``previous_entry_matches``,
  e.g. REDCap: the previous patient ID; Calpendo: the booking), and the sync gives the entry the record's
  identity (:mod:`pylantir.sync.writer`), so it is updated, not added again.

A row without a patient ID, a scheduled date or with a status the previous Pylantir never wrote stays in
the old table only; ``pylantir db info`` shows the counts and why.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, column, insert, inspect, select, table, text
from sqlalchemy.orm import Session

from pylantir.config import PylantirConfig
from pylantir.config.previous import LEGACY_SOURCE_NAME
from pylantir.store.models import PreviousEntry, PreviousImport, WorklistItem
from pylantir.store.queries import LEGACY_TABLE
from pylantir.sync.identity import generated_uid
from pylantir.sync.mapping import FieldMapping, RowError
from pylantir.sync.previous_entries import MATCH_COLUMNS

if TYPE_CHECKING:
    from pylantir.plugins import PluginRegistry
    from pylantir.store import Database

log = logging.getLogger(__name__)

#: The source of rows whose ``data_source`` names no configured source.
UNCONFIGURED_SOURCE = "previous"
#: What 0.3.x wrote in ``data_source`` for every REDCap row.
PREVIOUS_REDCAP_TAG = "REDCap"
#: Its performed procedure step statuses -> our Scheduled Procedure Step Status.
PREVIOUS_STATUSES = {"SCHEDULED": "SCHEDULED", "IN_PROGRESS": "STARTED", "IN PROGRESS": "STARTED",
                     "COMPLETED": "COMPLETED", "DISCONTINUED": "DISCONTINUED"}
#: The previous Pylantir's columns that are ``field_mapping`` targets of the same name.
PREVIOUS_COLUMNS = (
    "patient_name", "patient_id", "patient_birth_date", "patient_sex", "accession_number",
    "referring_physician_name", "modality", "study_description", "scheduled_station_aetitle",
    "scheduled_start_date", "scheduled_start_time", "performing_physician", "procedure_description",
    "protocol_name", "station_name", "hisris_coding_designator",
)
#: The previous Pylantir's modality when a source gave none.
PREVIOUS_MODALITY = "MR"
_UID_LENGTH = 64
#: PostgreSQL advisory lock key of the import ("PYLIMPRT" in ASCII): two instances starting at once import once.
_LOCK_KEY = int.from_bytes(b"PYLIMPRT", "big")


class ImportPostponed(Exception):
    """The import cannot be done yet (a plugin is missing); nothing was imported, the old table is kept."""


@dataclass
class ImportReport:
    """What one import did: rows found, imported per source, and left in the old table per reason."""

    found: int = 0
    imported: dict[str, int] = field(default_factory=dict)
    left: dict[str, int] = field(default_factory=dict)
    recognisable: int = 0

    def summary(self) -> str:
        """One line for the log and the CLI (counts and source names only: no patient data)."""
        sources = ", ".join(f"{name} {count}" for name, count in sorted(self.imported.items())) or "none"
        left = "; ".join(f"{count} {reason}" for reason, count in sorted(self.left.items()))
        return (f"imported {sum(self.imported.values())} of the {self.found} rows of the previous Pylantir's "
                f"worklist ({sources}; {self.recognisable} to be matched by their source's next sync)"
                + (f"; left in {LEGACY_TABLE}: {left}" if left else ""))


def import_previous_worklist(database: Database, config: PylantirConfig,
                             registry: PluginRegistry) -> ImportReport | None:
    """Import the previous Pylantir's worklist once; ``None`` when there is none or it was imported already.

    Raises :class:`ImportPostponed` when a configured source that wrote rows has no plugin installed.
    """
    with database.session() as session:
        connection = session.connection()
        if LEGACY_TABLE not in inspect(connection).get_table_names():
            return None
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        if session.scalar(select(PreviousImport.id).limit(1)) is not None:
            return None
        report = _Import(session, config, registry).run(_legacy_rows(connection))
    log.info("%s", report.summary())
    return report


def _legacy_rows(connection: Connection) -> list[dict[str, Any]]:
    legacy = table(LEGACY_TABLE, *(column(c["name"]) for c in inspect(connection).get_columns(LEGACY_TABLE)))
    return [dict(row) for row in connection.execute(select(legacy).order_by(legacy.c.id)).mappings()]


def _valid_match(match: Any) -> bool:
    return match is None or (isinstance(match, Mapping) and bool(match) and set(match) <= MATCH_COLUMNS)


class _Import:
    def __init__(self, session: Session, config: PylantirConfig, registry: PluginRegistry):
        self.session = session
        self.config = config
        self.registry = registry
        self.mapping = FieldMapping.parse({name: name for name in PREVIOUS_COLUMNS}, where="previous worklist")
        self.empty = self.mapping.apply({})  # every column the mapping writes, as None

    def source_of(self, data_source: str | None) -> str:
        """The configured source a row's ``data_source`` stands for (see the module's docstring)."""
        names = {source.name for source in self.config.data_sources}
        if data_source in names:
            return str(data_source)
        if data_source in (None, "", PREVIOUS_REDCAP_TAG):
            redcap = [source.name for source in self.config.data_sources if source.type == "redcap"]
            if LEGACY_SOURCE_NAME in redcap or len(redcap) == 1:
                return LEGACY_SOURCE_NAME if LEGACY_SOURCE_NAME in redcap else redcap[0]
        return (data_source or UNCONFIGURED_SOURCE)[:64]

    def run(self, rows: list[dict[str, Any]]) -> ImportReport:
        report = ImportReport(found=len(rows))
        by_source: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_source.setdefault(self.source_of(row.get("data_source")), []).append(row)
        matches = {name: self.matches(name, source_rows) for name, source_rows in by_source.items()}
        left: Counter[str] = Counter()
        items: list[dict[str, Any]] = []
        awaiting: list[tuple[str, str, Mapping[str, str]]] = []
        for name, source_rows in by_source.items():
            for row, match in zip(source_rows, matches[name], strict=True):
                item = self.item(name, row)
                if isinstance(item, str):
                    left[item] += 1
                    continue
                items.append(item)
                report.imported[name] = report.imported.get(name, 0) + 1
                if match:
                    awaiting.append((item["identity"], name, match))
        inserted = self.session.execute(insert(WorklistItem).returning(WorklistItem.identity, WorklistItem.id), items)
        ids: dict[str, int] = {identity: item_id for identity, item_id in inserted} if items else {}
        if awaiting:
            self.session.execute(insert(PreviousEntry), [
                {"worklist_item_id": ids[identity], "source_name": name, "match": dict(match)}
                for identity, name, match in awaiting])
        report.left = dict(left)
        report.recognisable = len(awaiting)
        self.session.add(PreviousImport(legacy_table=LEGACY_TABLE, found=report.found,
                                        imported=sum(report.imported.values()),
                                        counts={"imported": report.imported, "left": report.left,
                                                "recognisable": report.recognisable}))
        return report

    def matches(self, source_name: str, rows: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, str] | None]:
        """What the source's records of these rows will carry, from the plugin owning its type."""
        source = next((s for s in self.config.data_sources if s.name == source_name), None)
        if source is None:
            return [None] * len(rows)
        from pylantir.plugins import PluginUnavailableError

        try:
            owner = self.registry.owner(source.type, source.name)
        except PluginUnavailableError as exc:
            raise ImportPostponed(f"source '{source.name}' wrote {len(rows)} rows of the previous Pylantir's "
                                  f"worklist, and {exc}") from exc
        results = self.registry.call_hook(owner, "previous_entry_matches", source_type=source.type,
                                          config=source.config, entries=[dict(row) for row in rows])
        if not results:
            return [None] * len(rows)
        found = list(results[0])
        if len(found) != len(rows) or not all(_valid_match(match) for match in found):
            from pylantir.plugins import PluginBugError

            raise PluginBugError(owner, "previous_entry_matches", f"returned {len(found)} items for {len(rows)} "
                                 f"entries, expected one each: None or a mapping of {', '.join(sorted(MATCH_COLUMNS))}")
        return found

    def item(self, source_name: str, row: Mapping[str, Any]) -> dict[str, Any] | str:
        """The worklist row of a previous row, or why it stays in the old table."""
        try:
            values = self.mapping.apply(row)
        except RowError as exc:  # what cannot be normalised is left empty, as the sync leaves it
            values = {**self.empty, **exc.row}
        status = PREVIOUS_STATUSES.get(str(row.get("performed_procedure_step_status") or "SCHEDULED").upper())
        if status is None:
            return "with a status the previous Pylantir never wrote"
        if not values.get("patient_id") or not values.get("scheduled_start_date"):
            return "without a patient ID or a scheduled date"
        identity = f"previous:{row['id']}"
        uid = str(row.get("study_instance_uid") or "")
        time = (values.get("scheduled_start_time") or "000000")[:6].ljust(6, "0")
        return {
            **values,
            "identity": identity,
            "source_name": source_name,
            "content_hash": "",
            "study_instance_uid": uid if 0 < len(uid) <= _UID_LENGTH else generated_uid(identity),
            "modality": values.get("modality") or PREVIOUS_MODALITY,
            "scheduled_start": values["scheduled_start_date"] + time,
            "scheduled_procedure_step_status": status,
            "status_from_mpps": status != "SCHEDULED",
        }
