"""Value types shared by the core and source plugins.

Everything a plugin needs besides :data:`pylantir.hookimpl` lives here and is re-exported from
:mod:`pylantir`: the declaration of a source type, the problems ``validate_config`` returns, the
records ``fetch_entries`` yields, the state object the core hands to a fetch, and the exception
types that mark expected operational failures.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Literal

#: What a write-back of one change came to (see :class:`WriteBackResult`).
WriteBackOutcome = Literal["done", "retry", "failed"]

__all__ = [
    "ConfigProblem",
    "FetchState",
    "ModelSchema",
    "Record",
    "Rejected",
    "SourceError",
    "SourceType",
    "StepChange",
    "TransientSourceError",
    "WriteBackResult",
]


@dataclass(frozen=True)
class SourceType:
    """Declaration of one source type a plugin provides.

    :param name: the value of ``type`` in a configured data source (e.g. ``"csv"``); lower-case
        letters, digits, ``_`` and ``-``.
    :param summary: one line shown by ``pylantir sources list``.
    :param config_schema: optional JSON Schema of the source's ``config`` object, for documentation
        and editors (a :class:`ModelSchema` makes it from the plugin's model when first read);
        validation itself is done by ``validate_config``.
    :param docs_url: optional link to the plugin's documentation.
    """

    name: str
    summary: str
    config_schema: Mapping[str, Any] | None = None
    docs_url: str | None = None


class ModelSchema(Mapping[str, Any]):
    """The JSON Schema of a pydantic model named ``"module:Model"``, made when it is first read.

    For :attr:`SourceType.config_schema`: plugins declare their types when they are loaded, by every command
    (``pylantir sources list`` too), and a plugin that gives its configuration model's schema this way
    imports that model (and pydantic) only when it validates or fetches. ``options`` are passed to the
    model's ``model_json_schema`` (``by_alias=True``...).
    """

    def __init__(self, model: str, **options: Any) -> None:
        self.model = model
        self.options = options

    @cached_property
    def _schema(self) -> Mapping[str, Any]:
        module, _, name = self.model.partition(":")
        schema: Mapping[str, Any] = getattr(importlib.import_module(module), name).model_json_schema(**self.options)
        return schema

    def __getitem__(self, key: str) -> Any:
        return self._schema[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._schema)

    def __len__(self) -> int:
        return len(self._schema)

    def __repr__(self) -> str:
        return f"ModelSchema({self.model!r})"


@dataclass(frozen=True)
class ConfigProblem:
    """One problem found in a source's ``config`` by ``validate_config``.

    :param path: where the problem is inside the source's ``config`` object, as a dotted path
        (``"file_path"``, ``"filter.column"``, ``"events.0"``); ``""`` for the object itself.
    :param message: what is wrong and, where possible, what is expected.
    :param severity: ``"error"`` makes the configuration invalid; ``"warning"`` is shown but
        accepted (e.g. "the file does not exist yet").
    """

    path: str
    message: str
    severity: Literal["error", "warning"] = "error"


@dataclass(frozen=True)
class Record:
    """A raw source record together with where it came from.

    Plugins may yield plain mappings; wrapping one in a ``Record`` adds a location
    (``"line 12"``, ``"record 1043"``) that the core quotes when it rejects the row.

    :param key: optional, the entry's identity in its source as the plugin needs it to write back to
        it (REDCap: record, event, repeating instrument and instance; SQL: the primary key), a mapping of
        JSON values. The core stores it with the worklist entry and hands it back in
        :attr:`StepChange.key`. It must follow from ``data`` (it is not part of the content hash).
    """

    data: Mapping[str, Any]
    location: str
    key: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Rejected:
    """A source row the plugin could not read (wrong field count, undecodable bytes...).

    Yielding it instead of raising lets the rest of the fetch land; the core stores the
    rejection on the sync run and counts it.
    """

    location: str
    reason: str


@dataclass
class FetchState:
    """What the core tells a fetch about earlier syncs, and what the fetch tells the core back.

    :ivar previous: the ``state`` the plugin saved after the last *successful* sync of this source
        (``{}`` before the first one). Read it for watermarks and file signatures.
    :ivar last_success: start time (UTC) of the last successful sync, or ``None``.
    :ivar saved: what the plugin wants remembered; the core persists it only if this sync commits.
    :ivar complete: ``True`` (default) when the records yielded are the source's whole current
        content, so entries missing from them may be removed. Set ``False`` for incremental fetches.
    :ivar unchanged: set ``True`` (and yield nothing) when the source has not changed since the last
        successful sync; the core then leaves the worklist as it is.
    """

    previous: Mapping[str, Any] = field(default_factory=dict)
    last_success: datetime | None = None
    saved: dict[str, Any] = field(default_factory=dict)
    complete: bool = True
    unchanged: bool = False


class SourceError(Exception):
    """An expected operational failure of a source: missing file, refused credentials, bad payload.

    The message is shown to the user as it is, without a traceback, so it must say what failed
    and name the file, URL or field involved. Never put credentials or patient data in it.
    Any other exception raised by a plugin is treated as a bug in that plugin.
    """


class TransientSourceError(SourceError):
    """A failure that may go away by itself (timeout, connection refused, HTTP 5xx).

    The core retries the fetch with back-off within the same sync before giving up.
    """


@dataclass(frozen=True)
class StepChange:
    """One performed-step change of a worklist entry, as the ``write_back`` hook receives it.

    Recorded when a modality's MPPS N-CREATE (``IN PROGRESS``) or final N-SET (``COMPLETED``,
    ``DISCONTINUED``) reaches an entry of a source with ``write_back``; each change carries the whole
    current state of the step, so writing the newest one is enough (older ones it supersedes are not
    sent).

    :ivar change_id: stable for this change across retries and restarts (an idempotency key).
    :ivar key: the entry's :attr:`Record.key` (``None`` when its plugin gave none).
    :ivar location: where the entry came from, as the plugin said (``Record.location``).
    :ivar identity: the core's identity of the entry (``uid:...``, ``acc:...``).
    :ivar status: the entry's new Scheduled Procedure Step Status: ``STARTED``, ``COMPLETED`` or
        ``DISCONTINUED``.
    :ivar performed_status: the MPPS status: ``IN PROGRESS``, ``COMPLETED`` or ``DISCONTINUED``.
    :ivar started_at: Performed Procedure Step Start Date and Time (the modality's wall clock, naive).
    :ivar ended_at: Performed Procedure Step End Date and Time, for a final status (else ``None``).
    :ivar recorded_at: when Pylantir stored the change (UTC).
    :ivar attributes: more of the MPPS a scheduler may want, by DICOM keyword, as strings where
        present: ``PerformedStationAETitle``, ``PerformedStationName``, ``PerformedLocation``,
        ``PerformedProcedureStepID``, ``PerformedProcedureStepDescription``, ``StudyInstanceUID``,
        ``AccessionNumber``, ``SOPInstanceUID`` (of the MPPS instance), ``Modality``,
        ``PerformedSeriesCount``, and ``DiscontinuationReason`` (the code meaning, when discontinued).
    """

    change_id: int
    source_name: str
    key: Mapping[str, Any] | None
    location: str | None
    identity: str
    status: str
    performed_status: str
    started_at: datetime | None
    ended_at: datetime | None
    recorded_at: datetime
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WriteBackResult:
    """What became of one :class:`StepChange` the ``write_back`` hook was given.

    :param change_id: the change's :attr:`StepChange.change_id`.
    :param outcome: ``"done"`` (written, or nothing to write), ``"retry"`` (a transient failure: the core
        tries again later, with back-off) or ``"failed"`` (permanent: marked failed for a person to see,
        never retried).
    :param message: for a failure, what went wrong (shown by ``pylantir sources status``; no patient data).
    """

    change_id: int
    outcome: WriteBackOutcome
    message: str = ""

    @classmethod
    def done(cls, change: StepChange) -> WriteBackResult:
        """``change`` was written."""
        return cls(change.change_id, "done")

    @classmethod
    def retry(cls, change: StepChange, message: str) -> WriteBackResult:
        """``change`` could not be written this time; worth trying again."""
        return cls(change.change_id, "retry", message)

    @classmethod
    def failed(cls, change: StepChange, message: str) -> WriteBackResult:
        """``change`` can never be written as it is (no such record, a value the field refuses)."""
        return cls(change.change_id, "failed", message)
