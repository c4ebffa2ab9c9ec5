"""Pylantir source plugin for CSV exports: ``"type": "csv"``.

A source reads one file or a glob of files (merged as one source), each with a header row. Rows are
streamed; a malformed row is rejected with its line number and the rest lands. See
``docs/sources-csv-json.md`` for the ``config`` keys.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pylantir import ConfigProblem, FetchState, ModelSchema, Record, Rejected, SourceType, hookimpl

# The configuration model (pydantic) and the reader are imported by the hooks that use them, not when the plugin
# is loaded: ``pylantir sources list`` and ``config example`` load every plugin and use none of them.
__all__ = ["content_digest", "fetch_entries", "source_types", "validate_config"]


@hookimpl
def source_types() -> list[SourceType]:
    """Declare the ``csv`` source type."""
    return [
        SourceType(
            "csv",
            "Scheduled exams from CSV exports (a file or a glob of files)",
            config_schema=ModelSchema("pylantir_csv.config:CsvConfig", by_alias=True),
        )
    ]


@hookimpl
def validate_config(config: Mapping[str, Any], config_dir: Path) -> list[ConfigProblem]:
    """Report wrong types and unknown keys; warn when ``file_path`` (under ``config_dir``) matches no file yet."""
    from pylantir.filesource import validate_file_config
    from pylantir_csv.config import CsvConfig

    return validate_file_config(CsvConfig, config, config_dir)


@hookimpl
def content_digest(source_name: str, config: Mapping[str, Any], config_dir: Path) -> str | None:
    """The matched files' paths and SHA-256 (``None`` with ``watch_for_changes``): an unchanged export is
    not read again (see ``pylantir.filesource.content_digest``)."""
    from pylantir.filesource import content_digest as files_digest
    from pylantir_csv.config import CsvConfig

    return files_digest(CsvConfig, config, source_name, config_dir)


@hookimpl
def fetch_entries(
    source_name: str, config: Mapping[str, Any], fields: frozenset[str], state: FetchState, config_dir: Path
) -> Iterator[Record | Rejected]:
    """Yield every data row of the matched files, in path order, as a :class:`Record` or :class:`Rejected`."""
    from pylantir.filesource import files_to_read
    from pylantir_csv.config import CsvConfig
    from pylantir_csv.reader import CsvFile

    parsed, files = files_to_read(CsvConfig, config, source_name, state, config_dir)
    for path in files:
        yield from CsvFile(path, parsed, fields, source_name).rows()
