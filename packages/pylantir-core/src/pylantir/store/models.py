"""SQLAlchemy models: worklist items, MPPS instances, sync runs and per-source sync state.

Worklist values are stored in DICOM-ready form: dates ``YYYYMMDD``, times ``HHMMSS[.ffffff]``, person
names ``Family^Given^Middle^Prefix^Suffix``, code strings upper-case. Which DICOM attribute each worklist
column holds, and its SQL type, come from :mod:`pylantir.store.catalogue` (:func:`dicom_column`); the
column names that ``field_mapping`` targets keep the previous Pylantir's names where they say what they
hold (``patient_id``, ``scheduled_start_date``...).

No ``from __future__ import annotations`` here: the ``Mapped[...]`` annotations are evaluated by Python, not
each one from its string by SQLAlchemy (a fifth of the time declaring the models takes, which every command that
opens the database pays); only the relationships' forward references are strings.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from pylantir.store.catalogue import attribute

#: Stored length of each text VR: its maximum (PS3.5 6.2); PN holds five 64-character components and four ``^``.
VR_LENGTHS = {"AE": 16, "CS": 16, "SH": 16, "LO": 64, "PN": 324, "DA": 8, "TM": 16, "UI": 64}


def utcnow() -> datetime:
    """Timestamps are stored in UTC."""
    return datetime.now(UTC)


def dicom_column(column: str, **options: Any) -> Any:
    """The ``mapped_column`` of a catalogue column: ``Float`` for DS, else a string as long as its values
    (each of its VR's length, separated by backslashes)."""
    entry = attribute(column)
    if entry.vr == "DS":
        return mapped_column(Float, **options)
    return mapped_column(String(VR_LENGTHS[entry.vr] * entry.values + entry.values - 1), **options)


class Base(DeclarativeBase):
    """Declarative base of every Pylantir table (``Base.metadata`` is what Alembic migrates)."""

    # Named constraints, so that Alembic migrations (batch mode on SQLite) can address them.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {dict[str, Any]: JSON}


class WorklistItem(Base):
    """One scheduled procedure step, as offered to modalities by C-FIND."""

    __tablename__ = "worklist_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)

    # Lineage and identity
    identity: Mapped[str] = mapped_column(String(128), unique=True)
    source_name: Mapped[str] = mapped_column(String(64), index=True)
    source_key: Mapped[str | None] = mapped_column(String(128))
    # The entry's identity in its source as its plugin gave it (``Record.key``), as JSON text: what
    # performed-step write-back hands back to the plugin. NULL when the plugin gives none.
    source_record_key: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # When a sync last wrote the row (unchanged rows are not written: SourceState says when a source was read)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The sync runs that inserted the row and last really changed it (unchanged rows keep theirs); NULL for
    # rows written outside a sync, and once the run is deleted. Indexed so that deleting old runs
    # (housekeeping) finds the rows to set NULL without scanning the worklist once per run.
    created_run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_runs.id", ondelete="SET NULL"), index=True)
    updated_run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_runs.id", ondelete="SET NULL"), index=True)

    # Patient
    patient_id: Mapped[str] = dicom_column("patient_id", index=True)
    issuer_of_patient_id: Mapped[str | None] = dicom_column("issuer_of_patient_id")
    patient_name: Mapped[str | None] = dicom_column("patient_name")
    patient_birth_date: Mapped[str | None] = dicom_column("patient_birth_date")
    patient_sex: Mapped[str | None] = dicom_column("patient_sex")
    patient_weight_kg: Mapped[float | None] = dicom_column("patient_weight_kg")
    patient_size_m: Mapped[float | None] = dicom_column("patient_size_m")
    medical_alerts: Mapped[str | None] = dicom_column("medical_alerts")
    allergies: Mapped[str | None] = dicom_column("allergies")

    # Imaging service request and requested procedure
    accession_number: Mapped[str | None] = dicom_column("accession_number", index=True)
    study_instance_uid: Mapped[str] = dicom_column("study_instance_uid", index=True)
    requested_procedure_id: Mapped[str | None] = dicom_column("requested_procedure_id")
    requested_procedure_description: Mapped[str | None] = dicom_column("requested_procedure_description")
    requested_procedure_code_value: Mapped[str | None] = dicom_column("requested_procedure_code_value")
    requested_procedure_code_scheme: Mapped[str | None] = dicom_column("requested_procedure_code_scheme")
    requested_procedure_code_meaning: Mapped[str | None] = dicom_column("requested_procedure_code_meaning")
    requested_procedure_priority: Mapped[str | None] = dicom_column("requested_procedure_priority")
    referring_physician_name: Mapped[str | None] = dicom_column("referring_physician_name")
    requesting_physician: Mapped[str | None] = dicom_column("requesting_physician")

    # Scheduled procedure step
    scheduled_procedure_step_id: Mapped[str | None] = dicom_column("scheduled_procedure_step_id")
    # modality, station and status have few distinct values: unindexed (C-FIND narrows by date first)
    modality: Mapped[str] = dicom_column("modality")
    scheduled_station_aetitle: Mapped[str | None] = dicom_column("scheduled_station_aetitle")
    station_name: Mapped[str | None] = dicom_column("station_name")
    scheduled_procedure_step_location: Mapped[str | None] = dicom_column("scheduled_procedure_step_location")
    scheduled_start_date: Mapped[str] = dicom_column("scheduled_start_date")
    scheduled_start_time: Mapped[str | None] = dicom_column("scheduled_start_time")
    # date + time as one sortable "YYYYMMDDHHMMSS" string, for combined date-time range matching
    scheduled_start: Mapped[str] = mapped_column(String(14))
    performing_physician: Mapped[str | None] = dicom_column("performing_physician")
    procedure_description: Mapped[str | None] = dicom_column("procedure_description")
    protocol_name: Mapped[str | None] = dicom_column("protocol_name")
    hisris_coding_designator: Mapped[str | None] = dicom_column("hisris_coding_designator")
    # Scheduled Procedure Step Status (0040,0020): SCHEDULED, ARRIVED, READY, STARTED, COMPLETED...
    scheduled_procedure_step_status: Mapped[str] = dicom_column("scheduled_procedure_step_status", default="SCHEDULED")
    # True once MPPS has taken over the step's status: syncs never overwrite it again.
    status_from_mpps: Mapped[bool] = mapped_column(default=False)

    # Any other MWL attribute, by DICOM keyword (e.g. {"PatientState": "..."}), returned when asked: at the
    # top level, and inside the Scheduled Procedure Step item (catalogue.STEP_EXTRAS, e.g. RequestedContrastAgent).
    extra_attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    extra_step_attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    mpps: Mapped[list["PerformedProcedureStep"]] = relationship(back_populates="worklist_item")

    # The broad query every modality makes (start date-time range + modality + station AE title, in the
    # configured statuses): the range drives the index, the other three are checked in the index entries
    # before any table row is read. Patient ID, accession number and UID queries have their own indexes.
    __table_args__ = (
        Index(
            "ix_worklist_start_modality_station_status",
            "scheduled_start",
            "modality",
            "scheduled_station_aetitle",
            "scheduled_procedure_step_status",
        ),
    )


class PerformedProcedureStep(Base):
    """A Modality Performed Procedure Step instance received by N-CREATE and updated by N-SET."""

    __tablename__ = "mpps_instances"

    sop_instance_uid: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    worklist_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("worklist_items.id", ondelete="SET NULL"), index=True
    )
    calling_ae_title: Mapped[str | None] = mapped_column(String(16))
    # The instance's attributes in the DICOM JSON model (PS3.18 F.2), as merged from N-CREATE and N-SETs.
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    worklist_item: Mapped["WorklistItem | None"] = relationship(back_populates="mpps")


class SyncRun(Base):
    """One sync of one source: when, how it ended, what it counted (lineage)."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_name: Mapped[str] = mapped_column(String(64))  # indexed with started_at, below
    source_type: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # running, writing, success, unchanged, failed, timeout, abandoned, interrupted (its process died)
    outcome: Mapped[str] = mapped_column(String(16), default="running")
    # Who runs the sync: the host, process ID and process start time, so that a run left "running" by a
    # process that died is told from one of a live process (pid reuse gives another start time).
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    process_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fetched: Mapped[int] = mapped_column(default=0)
    inserted: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    removed: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)

    rejected_rows: Mapped[list["RejectedRow"]] = relationship(
        back_populates="sync_run", cascade="all, delete-orphan"
    )

    # "The latest runs of a source" (status, health, pylantir db info) without scanning every run.
    __table_args__ = (Index("ix_sync_runs_source_started", "source_name", "started_at"),)


class RejectedRow(Base):
    """A source row a sync run rejected, with the reason (no patient data in the reason)."""

    __tablename__ = "rejected_rows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sync_run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id", ondelete="CASCADE"), index=True)
    location: Mapped[str] = mapped_column(String(128))
    field: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)

    sync_run: Mapped["SyncRun"] = relationship(back_populates="rejected_rows")


class RemovedEntry(Base):
    """A worklist entry that housekeeping removed (``pylantir.housekeeping``), so that a source still
    returning it does not bring it back: a sync adds it again only when it is scheduled later than it was.

    Keyed by a digest of the identity (which may hold an accession number), with no patient data; kept
    while a sync could still accept the entry (its date within the quality gate's past limit).
    """

    __tablename__ = "removed_entries"

    identity_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    source_name: Mapped[str] = mapped_column(String(64))
    scheduled_start: Mapped[str] = mapped_column(String(14), index=True)
    removed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PreviousImport(Base):
    """The import of the previous Pylantir's worklist (``pylantir.previous_import``): done once, when and what.

    ``counts`` holds, per source, the rows imported and, per reason, the rows left in ``legacy_table``.
    """

    __tablename__ = "previous_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    legacy_table: Mapped[str] = mapped_column(String(64))
    found: Mapped[int] = mapped_column(default=0)
    imported: Mapped[int] = mapped_column(default=0)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)


class PreviousEntry(Base):
    """An imported entry of the previous Pylantir that its source's next sync has not recognised yet.

    ``match`` holds what the source's records of the same entry carry (a worklist column or ``source_key``
    -> value, from the plugin's ``previous_entry_match`` hook); the sync that meets such a record gives the
    entry that record's identity (``pylantir.sync.writer``) and deletes this row.
    """

    __tablename__ = "previous_entries"

    worklist_item_id: Mapped[int] = mapped_column(
        ForeignKey("worklist_items.id", ondelete="CASCADE"), primary_key=True
    )
    source_name: Mapped[str] = mapped_column(String(64), index=True)
    match: Mapped[dict[str, Any]] = mapped_column(JSON)
class WriteBackChange(Base):
    """One performed-step change to write back to a source (the outbox of :mod:`pylantir.writeback`).

    Recorded in the transaction that stores the MPPS state it comes from; ``change`` holds everything the
    plugin is handed (a snapshot: the worklist entry may be gone by the time it is delivered).
    ``state``: ``pending`` (to deliver at ``next_attempt_at``), ``done``, ``superseded`` (a newer change of
    the same entry was recorded before this one was delivered: only the newest state is written) or
    ``failed`` (permanently; ``last_error`` says why).
    """

    __tablename__ = "write_back_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_name: Mapped[str] = mapped_column(String(64))
    identity: Mapped[str] = mapped_column(String(128))
    mpps_uid: Mapped[str] = mapped_column(String(64))
    change: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        # the worker's "what is due" and the superseding of an entry's pending changes
        Index("ix_write_back_changes_state_due", "state", "next_attempt_at"),
        Index("ix_write_back_changes_identity", "identity", "state"),
        # ``sources status``: counts per source and state
        Index("ix_write_back_changes_source_state", "source_name", "state"),
    )


class SourceState(Base):
    """Per-source sync state that survives restarts: health, back-off and the plugin's saved state."""

    __tablename__ = "source_states"

    source_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    # The FetchState.saved of the last successful sync (watermarks, file signatures).
    plugin_state: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # What the last clean complete sync proved, for a next sync that may not need to fetch
    # (pylantir.sync.unchanged.Proof); None: fetch.
    unchanged_proof: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class User(Base):
    """A person who logs in to the HTTP service (dashboard, API); made with ``pylantir users add``."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    # argon2id, in its own encoded form (parameters and salt included); never the password itself
    password_hash: Mapped[str] = mapped_column(String(255))
    # read, write or admin (pylantir.accounts.Role)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    tokens: Mapped[list["ApiToken"]] = relationship(back_populates="user", cascade="all, delete-orphan",
                                                  passive_deletes=True)


class ApiToken(Base):
    """A bearer credential: an API token for scripts (``pylantir tokens create``) or a login session.

    Only a SHA-256 digest of the token is stored (tokens are 256 random bits, so a digest cannot be reversed
    by guessing); a revoked or expired token is refused and kept until housekeeping of sessions removes it.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "api" (a script's token) or "session" (a login)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    # a session's role is its user's (looked up on each request); an API token has its own
    role: Mapped[str | None] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped["User | None"] = relationship(back_populates="tokens")


class AuditEvent(Base):
    """One write through the HTTP service or an account change: who, when, from where, what changed.

    ``changes`` holds the changed fields' old and new values: never more than the row itself holds.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    # "user:alice", "token:nightly-export", "cli:root"
    actor: Mapped[str] = mapped_column(String(96))
    remote_address: Mapped[str | None] = mapped_column(String(64))
    # e.g. "worklist.create", "user.add", "token.revoke"
    action: Mapped[str] = mapped_column(String(64))
    # e.g. "worklist_item:42", "user:alice"
    target: Mapped[str | None] = mapped_column(String(128))
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ServiceSecret(Base):
    """A secret the service generated at its first start (e.g. the key of CSRF tokens); never a default."""

    __tablename__ = "service_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
