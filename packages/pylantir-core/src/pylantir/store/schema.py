"""Schema migrations with Alembic; the migration scripts ship inside the package (``migrations/``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
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


def upgrade_schema(engine: Engine, revision: str = "head") -> None:
    """Create the schema in an empty database, or upgrade an older one; rows are kept."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)
