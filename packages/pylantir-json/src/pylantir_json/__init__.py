"""Pylantir source plugin for JSON and JSON Lines files: ``"type": "json"``.

A source reads one file or a glob of files (merged as one source) holding an array of record objects,
an object with that array at a dotted ``records_path``, or JSON Lines. Files are streamed (arrays with
ijson, whose backend the type's summary names); nested values are reachable from the ``field_mapping``
with dotted paths. See ``docs/sources-csv-json.md``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pylantir import ConfigProblem, FetchState, ModelSchema, Record, Rejected, SourceType, hookimpl
from pylantir_json.parser import BACKEND

# The configuration model (pydantic) and the reader are imported by the hooks that use them, not when the plugin
# is loaded: ``pylantir sources list`` and ``config example`` load every plugin and use none of them.
__all__ = ["content_digest", "fetch_entries", "source_types", "validate_config"]


@hookimpl
def source_types() -> list[SourceType]:
    """Declare the ``json`` source type."""
    return [
        SourceType(
            "json",
            f"Scheduled exams from JSON or JSON Lines files (parser: ijson {BACKEND})",
            config_schema=ModelSchema("pylantir_json.config:JsonConfig"),
        )
    ]


@hookimpl
def validate_config(config: Mapping[str, Any], config_dir: Path) -> list[ConfigProblem]:
    """Report wrong types, unknown keys and a missing ``records_path``; warn when no file matches yet."""
    from pylantir.filesource import validate_file_config
    from pylantir_json.config import JsonConfig

    return validate_file_config(JsonConfig, config, config_dir)


@hookimpl
def content_digest(source_name: str, config: Mapping[str, Any], config_dir: Path) -> str | None:
    """The matched files' paths and SHA-256 (``None`` with ``watch_for_changes``): an unchanged export is
    not read again (see ``pylantir.filesource.content_digest``)."""
    from pylantir.filesource import content_digest as files_digest
    from pylantir_json.config import JsonConfig

    return files_digest(JsonConfig, config, source_name, config_dir)


@hookimpl
def fetch_entries(
    source_name: str, config: Mapping[str, Any], state: FetchState, config_dir: Path
) -> Iterator[Record | Rejected]:
    """Yield every record of the matched files (relative paths under ``config_dir``), in path order, as a
    :class:`Record` or :class:`Rejected`."""
    from pylantir.filesource import files_to_read
    from pylantir_json.config import JsonConfig
    from pylantir_json.reader import JsonFile

    parsed, files = files_to_read(JsonConfig, config, source_name, state, config_dir)
    for path in files:
        yield from JsonFile(path, parsed, source_name).rows()
