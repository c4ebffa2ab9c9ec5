"""Schema migrations with Alembic; the migration scripts ship inside the package (``migrations/``).

Changing :mod:`pylantir.store.models` needs a new revision in ``migrations/versions/`` (a test
compares the migrated schema with the models). Draft one against a database at the newest revision::

    from alembic import command
    with engine.begin() as connection:
        command.revision(alembic_config(connection), "what changes", autogenerate=True, rev_id="0006")

then review it: keep both backends (SQLite, PostgreSQL) in mind, and never lose rows.
"""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, text

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_UPGRADE_LOCK = threading.Lock()
#: PostgreSQL advisory lock key held while migrating ("PYLANTIR" in ASCII, as a 64-bit integer).
_ADVISORY_LOCK_KEY = int.from_bytes(b"PYLANTIR", "big")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for Pylantir's migrations, bound to ``connection`` when given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest schema revision this version of Pylantir knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "pylantir ships at least one migration"
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision, or ``None`` for a database Pylantir has not set up yet."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _known(config: Config, revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(config).get_revision(revision) is not None
    except CommandError:
        return False


class SchemaError(Exception):
    """The database's schema cannot be brought to this version's (e.g. a newer Pylantir wrote it)."""


class SchemaBehindError(SchemaError):
    """The database's schema is older than this version's (or absent) and the command may not migrate it."""


def check_schema(engine: Engine) -> None:
    """Raise :class:`SchemaError` unless the database's schema is this version's newest (no migration)."""
    found = current_revision(engine)
    if found == head_revision():
        return
    if found is not None and not _known(alembic_config(), found):
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

    One upgrade at a time, the revision read once it is our turn: threads of this process queue on a
    lock, processes on the database (PostgreSQL: a transaction-scoped advisory lock; SQLite: the write
    lock, taken with ``BEGIN IMMEDIATE``; the migration then runs in that transaction).
    """
    with _UPGRADE_LOCK, engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
        elif connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock before reading the revision
        config = alembic_config(connection)
        found = MigrationContext.configure(connection).get_current_revision()
        if found is not None and not _known(config, found):
            raise SchemaError(_too_new(found))
        command.upgrade(config, revision)
