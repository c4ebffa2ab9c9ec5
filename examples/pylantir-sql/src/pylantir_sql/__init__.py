"""Pylantir source plugin ``sql``: scheduled exams from any SQLAlchemy database, by table or by query."""

import os
from collections.abc import Iterator, Mapping

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, model_validator

from pylantir import ConfigProblem, Record, SourceError, SourceType, TransientSourceError, hookimpl
from pylantir.validation import problems_from_model
from pylantir_sql.writeback import reflect, validate_write_back, write_back  # noqa: F401 - hooks of this plugin


class SqlConfig(BaseModel):
    """``url_env``: the environment variable holding the database URL (it may contain a password)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    url_env: str
    table: str | None = None  # a table or view, optionally "schema.table"
    query: str | None = None  # or a SELECT statement

    @model_validator(mode="after")
    def _table_or_query(self) -> "SqlConfig":
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of 'table' or 'query'")
        return self


@hookimpl
def source_types() -> list[SourceType]:
    """The ``sql`` source type."""
    return [SourceType("sql", "Scheduled exams from a SQL database table or query (SQLAlchemy)")]


@hookimpl
def validate_config(config: Mapping[str, object]) -> list[ConfigProblem]:
    """Problems in a ``sql`` source's config (no connection is made)."""
    return problems_from_model(SqlConfig, config)


@hookimpl
def fetch_entries(source_name: str, config: Mapping[str, object], fields: frozenset[str]) -> Iterator[dict]:
    """Stream the rows of the table or query; fail clearly on a missing variable, table or column."""
    settings = SqlConfig.model_validate(dict(config))
    if not (url := os.environ.get(settings.url_env)):
        raise SourceError(f"source {source_name}: environment variable {settings.url_env} is not set")
    try:
        engine = sa.create_engine(url)
        connection = engine.connect()
    except sa.exc.SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or type(exc).__name__  # never the URL: it may hold a password
        raise TransientSourceError(f"source {source_name}: cannot connect to ${settings.url_env}: {reason}") from exc
    try:
        with connection:
            table = reflect(connection, settings.table) if settings.table else None
            statement = sa.select(table) if table is not None else sa.text(settings.query)
            keys = [column.name for column in table.primary_key.columns] if table is not None else []
            result = connection.execution_options(yield_per=500).execute(statement)
            if missing := fields - set(result.keys()):
                raise SourceError(f"source {source_name}: no column {', '.join(sorted(missing))} in the result")
            for row in result.mappings():  # a table's rows carry their primary key, for write-back
                yield Record(dict(row), f"row {key}", key) if (key := {k: row[k] for k in keys}) else dict(row)
    except sa.exc.SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or type(exc).__name__
        raise SourceError(f"source {source_name}: reading {settings.table or 'the query'} failed: {reason}") from exc
    finally:
        engine.dispose()

