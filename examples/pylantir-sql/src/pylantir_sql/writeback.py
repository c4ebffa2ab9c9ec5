"""Write-back for ``sql`` sources: a performed step's status and times into columns of the row it came from.

Each row of a ``table`` source carries its primary key (``Record.key``); a change is one
``UPDATE <table> SET <status_column> = ... WHERE <primary key> = ...``, which writes the state, so writing
it twice changes nothing more.
"""

import os

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict

from pylantir import ConfigProblem, SourceError, TransientSourceError, WriteBackResult, hookimpl
from pylantir.validation import problems_from_model


class WriteBackSettings(BaseModel):
    """``write_back.config``: the column receiving the status (``STARTED``...), and optional time columns."""

    model_config = ConfigDict(extra="forbid", strict=True)
    status_column: str
    started_column: str | None = None
    ended_column: str | None = None


def reflect(connection: sa.Connection, table: str) -> sa.Table:
    """The configured table (``schema.table`` or ``table``) as the database describes it."""
    schema, _, name = table.rpartition(".")
    return sa.Table(name, sa.MetaData(), schema=schema or None, autoload_with=connection)


@hookimpl
def validate_write_back(config, settings):
    """Problems in ``write_back.config`` (no connection is made); the rows of a query cannot be updated."""
    problems = problems_from_model(WriteBackSettings, settings)
    if not config.get("table"):
        problems.append(ConfigProblem("", "write-back updates a table: use config.table, not config.query"))
    return problems


@hookimpl
def write_back(source_name, config, settings, changes):
    """One UPDATE per change, in one transaction; a row that is gone fails its change."""
    wanted = WriteBackSettings.model_validate(dict(settings))
    if not (url := os.environ.get(config["url_env"])):
        raise SourceError(f"source {source_name}: environment variable {config['url_env']} is not set")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            table = reflect(connection, config["table"])
            results = []
            for change in changes:
                values = {wanted.status_column: change.status, wanted.started_column: change.started_at,
                          wanted.ended_column: change.ended_at}
                where = [table.c[column] == value for column, value in (change.key or {}).items()]
                update = sa.update(table).where(*where).values({k: v for k, v in values.items() if k})
                found = bool(where) and connection.execute(update).rowcount > 0
                results.append(WriteBackResult.done(change) if found else
                               WriteBackResult.failed(change, f"source {source_name}: no row {change.key}"))
            return results
    except sa.exc.OperationalError as exc:  # unreachable, locked: worth another try
        raise TransientSourceError(f"source {source_name}: write-back failed: {exc.orig}") from exc
    except sa.exc.SQLAlchemyError as exc:
        raise SourceError(f"source {source_name}: write-back failed: {getattr(exc, 'orig', None) or exc}") from exc
    finally:
        engine.dispose()
