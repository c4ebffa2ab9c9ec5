"""Value types shared by the core and source plugins.

Everything a plugin needs besides :data:`pylantir.hookimpl` lives here and is re-exported from
:mod:`pylantir`: the declaration of a source type, the problems ``validate_config`` returns, the
records ``fetch_entries`` yields, the state object the core hands to a fetch, and the exception
types that mark expected operational failures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "ConfigProblem",
    "FetchState",
    "Record",
    "Rejected",
    "SourceError",
    "SourceType",
    "TransientSourceError",
]


@dataclass(frozen=True)
class SourceType:
    """Declaration of one source type a plugin provides.

    :param name: the value of ``type`` in a configured data source (e.g. ``"csv"``); lower-case
        letters, digits, ``_`` and ``-``.
    :param summary: one line shown by ``pylantir sources list``.
    :param config_schema: optional JSON Schema of the source's ``config`` object, for documentation
        and editors; validation itself is done by ``validate_config``.
    :param docs_url: optional link to the plugin's documentation.
    """

    name: str
    summary: str
    config_schema: Mapping[str, Any] | None = None
    docs_url: str | None = None


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
    """

    data: Mapping[str, Any]
    location: str


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
