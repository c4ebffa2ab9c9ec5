"""The configuration file's typed pydantic models (the current format; see :mod:`pylantir.config.previous`).

Unknown keys are errors, so typos are never silently ignored. Secrets are never in the file: sources
name the environment variables that hold them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pylantir.validation import known_time_zone

DEFAULT_WORKLIST_STATUSES = ("SCHEDULED", "ARRIVED", "READY", "STARTED")


def check_database_url(url: str) -> None:
    """Raise :class:`ValueError` when ``url`` is not a SQLAlchemy URL (the message never quotes it)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(url)
    except ArgumentError:
        raise ValueError(
            "not a database URL; use e.g. sqlite:///path/to/worklist.sqlite or "
            "postgresql+psycopg2://user@host/dbname"
        ) from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TlsSettings(_Strict):
    """DICOM TLS: the server's certificate and key, and optionally a CA to verify clients against."""

    certificate: str
    private_key: str
    ca_certificates: str | None = None
    require_client_certificate: bool = False


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


class DataSourceSettings(_Strict):
    """One configured data source. ``config`` is checked by the owning plugin's ``validate_config``."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    type: str = Field(min_length=1)
    enabled: bool = True
    sync_interval: float = Field(60.0, gt=0)
    operation_interval: OperationInterval = Field(default_factory=OperationInterval)
    config: dict[str, Any] = Field(default_factory=dict)
    field_mapping: dict[str, Any] = Field(default_factory=dict)
    priority: int | None = None
    timeout: float = Field(300.0, gt=0)
    removal_guard_fraction: float = Field(0.5, ge=0, le=1)


class PylantirConfig(_Strict):
    """The whole configuration file."""

    server: ServerSettings = Field(default_factory=ServerSettings)
    database_url: str = "sqlite:///pylantir.sqlite"
    database_echo: bool = False
    plugins_dir: str | None = None
    timezone: str = "UTC"
    data_sources: list[DataSourceSettings] = Field(default_factory=list)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        check_database_url(value)
        return value

    _known_timezone = field_validator("timezone")(known_time_zone)

    def enabled_sources(self) -> list[DataSourceSettings]:
        """Enabled sources, in config order (the default priority order)."""
        return [source for source in self.data_sources if source.enabled]
