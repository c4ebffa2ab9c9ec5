"""Schema migrations with Alembic; the migration scripts ship inside the package (``migrations/``).

The revision check (is the database at the newest revision?) reads the scripts' ``revision`` lines and the
version table without Alembic; Alembic is imported only to migrate. A new, empty database gets the newest
schema from the models in one go and the newest revision in Alembic's version table (Alembic's recipe for
a new database, "create_all, then stamp"): a tenth of the time replaying every migration takes, which each
new site, first sync and test database paid. A test checks that both ways give the same schema.

Changing :mod:`pylantir.store.models` needs a new revision in ``migrations/versions/`` (a test
compares the migrated schema with the models). Draft one against a database at the newest revision::

    from alembic import command
    with engine.begin() as connection:
        command.revision(alembic_config(connection), "what changes", autogenerate=True, rev_id="0006")

then review it: keep both backends (SQLite, PostgreSQL) in mind, and never lose rows.
"""

from __future__ import annotations

import re
import threading
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Column, Connection, Engine, MetaData, PrimaryKeyConstraint, String, Table, inspect, select, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"
_UPGRADE_LOCK = threading.Lock()
#: PostgreSQL advisory lock key held while migrating ("PYLANTIR" in ASCII, as a 64-bit integer).
_ADVISORY_LOCK_KEY = int.from_bytes(b"PYLANTIR", "big")
#: Alembic's version table as Alembic creates it (``DefaultImpl.version_table_impl``; a test compares them).
_VERSION = Table(
    VERSION_TABLE, MetaData(), Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name=f"{VERSION_TABLE}_pkc"),
)
#: ``revision = "0007"`` and ``down_revision = "0006"`` (or ``None``) lines of a migration script.
_REVISION_LINE = re.compile(r"""^(revision|down_revision)\s*(?::[^=]*)?=\s*(?:["']([^"']+)["']|None)""", re.M)


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for Pylantir's migrations, bound to ``connection`` when given."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


@cache
def known_revisions() -> dict[str, str | None]:
    """Every revision of the migration scripts and the one it revises, read from the files without importing
    Alembic (about 0.1 s of start-up saved on every database open; a test checks it against Alembic's view)."""
    revisions: dict[str, str | None] = {}
    for script in sorted((MIGRATIONS_DIR / "versions").glob("[0-9]*.py")):
        found = {name: value or None for name, value in _REVISION_LINE.findall(script.read_text(encoding="utf-8"))}
        assert found.get("revision"), f"{script} declares no revision"
        revisions[str(found["revision"])] = found.get("down_revision")
    return revisions


def head_revision() -> str:
    """The newest schema revision this version of Pylantir knows."""
    revisions = known_revisions()
    heads = set(revisions) - set(revisions.values())
    assert len(heads) == 1, f"the migrations must have one head, not {sorted(heads)}"
    return heads.pop()


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision, or ``None`` for a database Pylantir has not set up yet."""
    with engine.connect() as connection:
        return _stored_revision(connection)


def _stored_revision(connection: Connection) -> str | None:
    """The revision in the version table (``None`` without the table or a row); several rows (branches, which
    Pylantir never makes) are Alembic's to report."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    stored = list(connection.execute(select(_VERSION.c.version_num)).scalars())
    if len(stored) > 1:
        from alembic.runtime.migration import MigrationContext

        return MigrationContext.configure(connection).get_current_revision()  # raises: more than one head
    return stored[0] if stored else None


def _known(revision: str) -> bool:
    return revision in known_revisions()


class SchemaError(Exception):
    """The database's schema cannot be brought to this version's (e.g. a newer Pylantir wrote it)."""


class SchemaBehindError(SchemaError):
    """The database's schema is older than this version's (or absent) and the command may not migrate it."""


def check_schema(engine: Engine) -> None:
    """Raise :class:`SchemaError` unless the database's schema is this version's newest (no migration)."""
    found = current_revision(engine)
    if found == head_revision():
        return
    if found is not None and not _known(found):
        raise SchemaError(_too_new(found))
    raise SchemaBehindError(f"schema {revision_state(found)}")


def revision_state(revision: str | None) -> str:
    """``0009 (newest)``, or what to do about an older or absent schema."""
    newest = head_revision()
    if revision is None:
        return "none (empty database; run 'pylantir db upgrade')"
    if revision == newest:
        return f"{revision} (newest)"
    return f"{revision} (newest is {newest}; run 'pylantir db upgrade')"


def _too_new(found: str) -> str:
    return (f"the database is at schema revision {found}, which this Pylantir does not know "
            f"(its newest is {head_revision()}): it was written by a newer Pylantir; upgrade Pylantir")


def upgrade_schema(engine: Engine, revision: str = "head") -> None:
    """Create the schema in an empty database, or upgrade an older one; rows are kept.

    A database already at the newest revision is only read (Alembic is not imported). Otherwise one upgrade
    at a time, the revision read again once it is our turn: threads of this process queue on a lock,
    processes on the database (PostgreSQL: a transaction-scoped advisory lock; SQLite: the write lock, taken
    with ``BEGIN IMMEDIATE``; the migration then runs in that transaction). A database with none of
    Pylantir's tables and no revision gets the newest schema directly (:func:`_create_newest`); any other
    (an older revision, a previous Pylantir's worklist table) is migrated by Alembic.
    """
    if revision == "head" and current_revision(engine) == head_revision():
        return
    with _UPGRADE_LOCK, engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
        elif connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock before reading the revision
        found = _stored_revision(connection)
        if found is not None and not _known(found):
            raise SchemaError(_too_new(found))
        if revision == "head" and found is None and _has_no_pylantir_table(connection):
            _create_newest(connection)
            return
        from alembic import command

        command.upgrade(alembic_config(connection), revision)


def _has_no_pylantir_table(connection: Connection) -> bool:
    from pylantir.store.models import Base

    return not set(inspect(connection).get_table_names()) & set(Base.metadata.tables)


def _create_newest(connection: Connection) -> None:
    """The models' tables and the newest revision, in the caller's transaction (Alembic's "stamp")."""
    from pylantir.store.models import Base

    Base.metadata.create_all(connection)
    _VERSION.create(connection)
    connection.execute(_VERSION.insert().values(version_num=head_revision()))
