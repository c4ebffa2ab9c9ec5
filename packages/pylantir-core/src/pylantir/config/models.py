"""The configuration file's typed pydantic models (the current format; see :mod:`pylantir.config.previous`).

Unknown keys are errors, so typos are never silently ignored. Secrets are never in the file: sources
name the environment variables that hold them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StrictInt, field_validator, model_validator

from pylantir.validation import known_time_zone

DEFAULT_WORKLIST_STATUSES = ("SCHEDULED", "ARRIVED", "READY", "STARTED")


#: SQLAlchemy's URL grammar (``sqlalchemy.engine.url._parse_url``), so that checking a configuration file
#: does not import SQLAlchemy (about 0.1 s); a test checks that it accepts exactly what ``make_url`` parses.
_DATABASE_URL = re.compile(
    r"""
        (?P<name>[\w\+]+)://
        (?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?
        (?:(?:\[(?P<ipv6host>[^/\?]+)\]|(?P<ipv4host>[^/:\?]+))?(?::(?P<port>[^/\?]*))?)?
        (?:/(?P<database>[^\?]*))?
        (?:\?(?P<query>.*))?
    """,
    re.X,
)


def check_database_url(url: str) -> None:
    """Raise :class:`ValueError` when ``url`` is not a SQLAlchemy URL (the message never quotes it)."""
    found = _DATABASE_URL.match(url)
    try:
        if found is None:
            raise ValueError
        if found["port"] is not None:
            int(found["port"])  # as SQLAlchemy reads it
    except ValueError:
        raise ValueError(
            "not a database URL; use e.g. sqlite:///path/to/worklist.sqlite or "
            "postgresql+psycopg2://user@host/dbname"
        ) from None


def sqlite_path(url: str) -> str | None:
    """The file of a SQLite URL as written (``None`` for other databases and in-memory SQLite)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    database = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TlsSettings(_Strict):
    """DICOM TLS: the server's certificate and key, and optionally a CA to verify clients against."""

    certificate: str
    private_key: str
    ca_certificates: str | None = None
    require_client_certificate: bool = False


class OperationInterval(_Strict):
    """Daily window in which a source may sync, in the site timezone; may cross midnight."""

    start_time: tuple[int, int] = (0, 0)
    end_time: tuple[int, int] = (23, 59)

    @field_validator("start_time", "end_time")
    @classmethod
    def _valid_clock_time(cls, value: tuple[int, int]) -> tuple[int, int]:
        hour, minute = value
        if not (0 <= hour <= 23 and 0 <= minute <= 59):
            raise ValueError("must be [hour, minute] with hour 0-23 and minute 0-59")
        return value


class DailyWindow(OperationInterval):
    """``[start_time, end_time)`` every day; an end at or before the start is the next day's (overnight)."""

    start_time: tuple[int, int]
    end_time: tuple[int, int]


#: The largest ``days_ahead`` (ten years): what a scanner could be shown is bounded anyway.
MAX_DAYS_AHEAD = 3660


class Visibility(_Strict):
    """What a scanner sees of a source's items over C-FIND (``server.visibility``: of every other item).

    Exactly one of: ``"all": true`` (everything, the default); ``"days_ahead": N`` (items scheduled today up
    to today + N; 0 is today only); ``"daily_window"`` (items starting in today's ``[start, end)``, and in
    yesterday's while it still runs after midnight). Days and times are judged in ``timezone``, else the
    site's ``timezone``, on the wall clock (as the scheduled times are stored).
    """

    all: Literal[True] | None = None
    days_ahead: StrictInt | None = Field(None, ge=0, le=MAX_DAYS_AHEAD)
    daily_window: DailyWindow | None = None
    timezone: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        return None if value is None else known_time_zone(value)

    @model_validator(mode="after")
    def _one_window(self) -> Visibility:
        chosen = [key for key in ("all", "days_ahead", "daily_window") if getattr(self, key) is not None]
        if len(chosen) != 1:
            given = f" (not {' and '.join(chosen)})" if chosen else ""
            raise ValueError(f"give exactly one of \"all\": true, \"days_ahead\": N or \"daily_window\"{given}")
        if self.all and self.timezone is not None:
            raise ValueError("\"timezone\" applies to days_ahead and daily_window only; leave it out with \"all\"")
        return self


class ServerSettings(_Strict):
    """The DICOM side: who we are, where we listen, whom we answer."""

    ae_title: str = Field("PYLANTIR", min_length=1, max_length=16)
    host: str = "127.0.0.1"
    port: int = Field(11112, ge=1, le=65535)
    allowed_aets: list[str] | None = None
    check_called_ae_title: bool = False
    tls: TlsSettings | None = None
    worklist_statuses: list[str] = Field(default_factory=lambda: list(DEFAULT_WORKLIST_STATUSES))
    max_associations: int = Field(32, ge=1)
    maximum_pdu_size: int = Field(0, ge=0)
    #: Seconds from a connection's accept until its association request is complete (TLS handshake included).
    association_timeout: float = Field(5.0, gt=0)
    #: Seconds an established association may stay silent, or a PDU's bytes may stop coming, before it is closed.
    network_timeout: float = Field(30.0, gt=0)
    case_insensitive_names: bool = True
    #: What scanners see of items whose source has no ``visibility`` of its own (or is no longer configured).
    visibility: Visibility = Field(default_factory=lambda: Visibility(all=True))


#: The HTTP service's default port: the previous Pylantir's API port, away from DICOM's 11112.
DEFAULT_HTTP_PORT = 8000
#: What ``http.open_endpoints`` may leave open (everything else always needs a login or a token).
OpenEndpoint = Literal["health", "ready", "metrics"]
DEFAULT_OPEN_ENDPOINTS: tuple[OpenEndpoint, ...] = ("health", "ready")


class HttpTlsSettings(_Strict):
    """HTTPS: the service's certificate (chain) and private key, as PEM files."""

    certificate: str
    private_key: str


class DicomWebSettings(_Strict):
    """The DICOMweb services under ``/dicomweb`` (docs/conformance.md 5)."""

    #: Who may create and update MPPS over HTTP (``token:NAME``, ``user:NAME``), besides needing the write role:
    #: the HTTP counterpart of ``server.allowed_aets``. ``None``: every principal with the write role.
    mpps_clients: list[str] | None = None

    @field_validator("mpps_clients")
    @classmethod
    def _clients(cls, value: list[str] | None) -> list[str] | None:
        for client in value or []:
            if not re.fullmatch(r"(token|user):\S+", client):
                raise ValueError(f"{client!r} names no client: use token:NAME or user:NAME")
        return value


class HttpSettings(_Strict):
    """The HTTP service that ``pylantir run`` serves beside DICOM: REST API, health, dashboard (docs/http-api.md).

    There is no default user, password or secret: the first admin is made with ``pylantir users add``.
    """

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(DEFAULT_HTTP_PORT, ge=0, le=65535)
    tls: HttpTlsSettings | None = None
    #: Endpoints answered without a login or token (for a load balancer or a monitoring network).
    open_endpoints: list[OpenEndpoint] = Field(default_factory=lambda: list(DEFAULT_OPEN_ENDPOINTS))
    #: Hours a dashboard login lasts.
    session_hours: float = Field(12.0, gt=0, le=24 * 30)
    #: Origins (``https://host:port``) whose browser scripts may call the API with credentials (CORS).
    cors_allowed_origins: list[str] = Field(default_factory=list)
    #: The DICOMweb services (``/dicomweb``).
    dicomweb: DicomWebSettings = Field(default_factory=DicomWebSettings)

    @field_validator("cors_allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
                raise ValueError(f"{origin!r} is not an origin: use scheme://host[:port], without a path")
        if "*" in value:
            raise ValueError("'*' cannot be allowed with credentials: list the origins")
        return value


#: Names no configured source may take: ``manual`` holds the walk-ins added over HTTP (no sync removes them).
RESERVED_SOURCE_NAMES = frozenset({"manual"})
class WriteBack(_Strict):
    """A source's opt-in to performed-step write-back: MPPS changes of its entries written back to it.

    ``config`` is the plugin's (checked by its ``validate_write_back``: which fields to write...). A change
    that keeps failing transiently is retried with exponential back-off (``first_retry_seconds``, doubling,
    at most ``max_retry_seconds`` apart) and marked failed ``give_up_after_hours`` after it was recorded.
    """

    enabled: bool = True
    config: dict[str, Any] = Field(default_factory=dict)
    first_retry_seconds: float = Field(2.0, gt=0)
    max_retry_seconds: float = Field(300.0, gt=0)
    give_up_after_hours: float = Field(72.0, gt=0)
    #: Changes handed to the plugin per call.
    batch_size: int = Field(100, ge=1, le=10_000)


class DataSourceSettings(_Strict):
    """One configured data source. ``config`` is checked by the owning plugin's ``validate_config``."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    type: str = Field(min_length=1)
    enabled: bool = True
    sync_interval: float = Field(60.0, gt=0)
    operation_interval: OperationInterval = Field(default_factory=OperationInterval)
    config: dict[str, Any] = Field(default_factory=dict)
    field_mapping: dict[str, Any] = Field(default_factory=dict)
    #: How slash and dot dates with the year last (``11/02/1971``) are read; ``None``: only when unambiguous.
    date_order: Literal["day_first", "month_first"] | None = None
    priority: int | None = None
    timeout: float = Field(300.0, gt=0)
    removal_guard_fraction: float = Field(0.5, ge=0, le=1)
    #: What scanners see of this source's items; ``None``: ``server.visibility``.
    visibility: Visibility | None = None
    #: Performed-step write-back to the source; ``None``: nothing is ever written to it.
    write_back: WriteBack | None = None

    @property
    def writes_back(self) -> bool:
        """Whether MPPS changes of this source's entries are recorded and written back to it."""
        return self.enabled and self.write_back is not None and self.write_back.enabled

    _config_dir: Path | None = PrivateAttr(None)

    @property
    def config_dir(self) -> Path:
        """The directory of the configuration file the source was read from (relative paths start there).

        The working directory for a source not read from a file.
        """
        return self._config_dir or Path.cwd()

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_SOURCE_NAMES:
            raise ValueError(f"'{value}' is the built-in source of entries added over HTTP; choose another name")
        return value


class Housekeeping(_Strict):
    """How long what left the worklist is kept, and how ``pylantir run`` prunes (``pylantir db prune`` too).

    A ``*_days`` of ``null`` keeps those rows for ever.
    """

    #: Whether ``pylantir run`` prunes on its own, every ``interval_minutes`` (the first time one interval after start).
    enabled: bool = True
    interval_minutes: float = Field(60.0, gt=0)
    #: Rows removed per transaction (SQLite holds its write lock for one batch at a time).
    batch_size: int = Field(500, ge=1, le=10_000)
    #: COMPLETED, DISCONTINUED and CANCELED items, with their MPPS instances: days after their last change.
    finished_items_days: int | None = Field(30, ge=0)
    #: SCHEDULED, ARRIVED and READY items: days after their scheduled date (never a STARTED one).
    expired_items_days: int | None = Field(7, ge=0)
    #: Sync runs (the latest of each source is always kept), with their rejected rows: days after they ended.
    sync_runs_days: int | None = Field(90, ge=0)
    #: Rejected-row records of sync runs: days after their run ended.
    rejected_rows_days: int | None = Field(14, ge=0)
    #: Write-back changes delivered or superseded: days after they ended. Failed ones are kept until retried
    #: (``pylantir write-back retry``), pending ones until delivered.
    write_back_days: int | None = Field(30, ge=0)


class PylantirConfig(_Strict):
    """The whole configuration file."""

    server: ServerSettings = Field(default_factory=ServerSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    database_url: str = "sqlite:///pylantir.sqlite"
    database_echo: bool = False
    plugins_dir: str | None = None
    timezone: str = "UTC"
    data_sources: list[DataSourceSettings] = Field(default_factory=list)
    housekeeping: Housekeeping = Field(default_factory=Housekeeping)
    _config_dir: Path | None = PrivateAttr(None)

    @property
    def config_dir(self) -> Path:
        """The configuration file's directory, where its relative paths start (the working directory for a
        configuration not read from a file)."""
        return self._config_dir or Path.cwd()

    def resolved_database_url(self) -> str:
        """``database_url`` with a relative SQLite file under :attr:`config_dir` (other URLs as they are)."""
        from sqlalchemy.engine import make_url

        database = sqlite_path(self.database_url)
        if database is None or Path(database).expanduser().is_absolute():
            return self.database_url
        location = self.config_dir / Path(database).expanduser()
        return make_url(self.database_url).set(database=str(location)).render_as_string(hide_password=False)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        check_database_url(value)
        return value

    _known_timezone = field_validator("timezone")(known_time_zone)

    def enabled_sources(self) -> list[DataSourceSettings]:
        """Enabled sources, in config order (the default priority order)."""
        return [source for source in self.data_sources if source.enabled]

    def write_back_sources(self) -> list[DataSourceSettings]:
        """Enabled sources with an enabled ``write_back`` block."""
        return [source for source in self.data_sources if source.writes_back]
