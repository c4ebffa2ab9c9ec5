"""Schema migrations with Alembic; the migration scripts ship inside the package (``migrations/``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


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


def upgrade_schema(engine: Engine, revision: str = "head") -> None:
    """Create the schema in an empty database, or upgrade an older one; rows are kept."""
    with engine.begin() as connection:
        config = alembic_config(connection)
        found = MigrationContext.configure(connection).get_current_revision()
        if found is not None and not _known(config, found):
            raise SchemaError(
                f"the database is at schema revision {found}, which this Pylantir does not know "
                f"(its newest is {head_revision()}): it was written by a newer Pylantir; upgrade Pylantir"
            )
        command.upgrade(config, revision)
