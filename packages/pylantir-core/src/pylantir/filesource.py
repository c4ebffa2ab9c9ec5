"""Helpers for source plugins that read local files (``pylantir-csv``, ``pylantir-json``, yours).

What every file-based source needs, once: the common ``config`` keys (:class:`FileSourceConfig`),
resolving ``file_path`` (a file or a glob of files merged as one source), the "no file matches yet"
warning of ``validate_config``, opening files with errors that name them, ``utf-8`` read with or without
a byte-order mark, change detection (``watch_for_changes``) through :class:`pylantir.FetchState`, and the
``content_digest`` hook's digest of the files (:func:`content_digest`).
"""

from __future__ import annotations

import codecs
import glob
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

from pylantir.contract import ConfigProblem, FetchState, SourceError
from pylantir.validation import problems_from_model

__all__ = [
    "FileSourceConfig",
    "WatchMode",
    "content_digest",
    "file_error",
    "files_to_read",
    "matching_files",
    "missing_file_warnings",
    "open_source_file",
    "parse_config",
    "python_encoding",
    "resolved",
    "skip_if_unchanged",
    "validate_file_config",
]

WatchMode = Literal["mtime", "hash"]
_GLOB_CHARS = frozenset("*?[")
_HASH_CHUNK = 1 << 20

ConfigT = TypeVar("ConfigT", bound="FileSourceConfig")


def _watch_mode(value: Any) -> WatchMode | None:
    """``true`` means ``"mtime"``; ``false`` means no change detection."""
    if value is True:
        return "mtime"
    if value is False or value is None:
        return None
    if value in ("mtime", "hash"):
        return value
    raise PydanticCustomError("watch_mode", "must be true, false, \"mtime\" or \"hash\"")


class FileSourceConfig(BaseModel):
    """The ``config`` keys every file source shares; plugins subclass it and add their own.

    ``file_path`` is a path or a glob (``/exports/*.csv``); ``~`` is expanded, relative paths are
    relative to the configuration file's directory (the hooks' ``config_dir``). ``watch_for_changes``
    skips a fetch when no matched file changed since the last successful sync: ``"mtime"`` (size and
    modification time, also ``true``) or ``"hash"`` (SHA-256 of the content).
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    file_path: str
    encoding: str = "utf-8"
    watch_for_changes: Annotated[
        WatchMode | None,
        BeforeValidator(_watch_mode),
        WithJsonSchema({"anyOf": [{"type": "boolean"}, {"enum": ["mtime", "hash"]}]}),
    ] = Field(False, validate_default=True)

    @field_validator("file_path")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError("blank", "must not be empty")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise PydanticCustomError(
                "encoding", "unknown encoding '{value}' (e.g. utf-8, latin-1, cp1252)", {"value": value}
            ) from None
        return value


def python_encoding(encoding: str) -> str:
    """The codec to read with: any spelling of UTF-8 becomes ``utf-8-sig`` so a BOM is dropped."""
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


def resolved(pattern: str, config_dir: Path | None = None) -> str:
    """``pattern`` with ``~`` expanded and, when relative, under ``config_dir`` (default: the working directory)."""
    return str(Path(config_dir or Path.cwd(), os.path.expanduser(pattern)).absolute())


def _is_glob(pattern: str) -> bool:
    return any(char in pattern for char in _GLOB_CHARS)


def _files(pattern: str) -> list[Path]:
    return sorted(Path(p) for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))


def missing_file_warnings(pattern: str, key: str = "file_path", config_dir: Path | None = None) -> list[ConfigProblem]:
    """A warning (not an error) when ``pattern`` matches no file yet; empty when it matches one.

    The warning names the absolute path or glob looked at (``pattern`` under ``config_dir`` when relative).
    """
    absolute = resolved(pattern, config_dir)
    if _files(absolute):
        return []
    what = f"no file matches '{absolute}'" if _is_glob(pattern) else f"file '{absolute}' does not exist"
    return [ConfigProblem(key, f"{what} yet; the source fails until it does", "warning")]


def matching_files(pattern: str, source_name: str, config_dir: Path | None = None) -> list[Path]:
    """The files ``pattern`` names (under ``config_dir`` when relative), sorted by path, or a
    :class:`SourceError` naming the absolute path or glob when there is none."""
    absolute = resolved(pattern, config_dir)
    files = _files(absolute)
    if files:
        return files
    if _is_glob(pattern):
        raise SourceError(f"source '{source_name}': no file matches '{absolute}'")
    if Path(absolute).is_dir():
        raise SourceError(f"source '{source_name}': '{absolute}' is a directory, not a file")
    raise SourceError(f"source '{source_name}': file '{absolute}' does not exist")


def file_error(source_name: str, path: Path, message: str) -> SourceError:
    """A :class:`SourceError` about one file of a source: ``source 'x': '/path/file.csv': message``."""
    return SourceError(f"source '{source_name}': '{path}': {message}")


@contextmanager
def open_source_file(path: Path, source_name: str) -> Iterator[IO[bytes]]:
    """Open ``path`` for binary reading; failing to open or read it is a :class:`SourceError` naming it."""
    try:
        with open(path, "rb") as handle:
            yield handle
    except OSError as exc:
        raise SourceError(f"source '{source_name}': cannot read '{path}': {exc.strerror or exc}") from exc


def _signature(files: list[Path], mode: WatchMode, source_name: str) -> list[list[Any]]:
    signature: list[list[Any]] = []
    for path in files:
        if mode == "hash":
            digest = hashlib.sha256()
            with open_source_file(path, source_name) as handle:
                while chunk := handle.read(_HASH_CHUNK):
                    digest.update(chunk)
            signature.append([str(path), digest.hexdigest()])
        else:
            stat = path.stat()
            signature.append([str(path), stat.st_size, stat.st_mtime_ns])
    return signature


def skip_if_unchanged(
    files: list[Path], mode: WatchMode | None, state: FetchState, source_name: str
) -> bool:
    """Apply ``watch_for_changes``: True (and ``state.unchanged`` set) when no file changed.

    The files' signature is stored in ``state.saved["files"]`` (the core keeps it only when the sync
    commits) and compared with the one saved by the last successful sync. It is taken *before* the
    files are read, so a file changing during the read is read again at the next sync.
    """
    if mode is None:
        return False
    signature = {"mode": mode, "files": _signature(files, mode, source_name)}
    state.saved["files"] = signature
    if state.previous.get("files") == signature:
        state.unchanged = True
        return True
    return False


def content_digest(
    model: type[FileSourceConfig], config: Mapping[str, Any], source_name: str, config_dir: Path | None = None
) -> str | None:
    """The ``content_digest`` hook of a file source: a digest of the path and SHA-256 of every file
    ``file_path`` matches (under ``config_dir`` when relative), or ``None`` when ``watch_for_changes`` is set
    (its ``unchanged`` outcome then decides, as documented). Raises :class:`SourceError` like the fetch."""
    parsed = parse_config(model, config, source_name)
    if parsed.watch_for_changes is not None:
        return None
    signature = _signature(matching_files(parsed.file_path, source_name, config_dir), "hash", source_name)
    return hashlib.sha256(json.dumps(signature).encode()).hexdigest()


def parse_config(model: type[ConfigT], config: Mapping[str, Any], source_name: str) -> ConfigT:
    """Parse a source's ``config`` in ``fetch_entries``; an invalid one becomes a :class:`SourceError`."""
    try:
        return model.model_validate(dict(config))
    except ValidationError:
        details = "; ".join(f"{p.path or '(config)'}: {p.message}" for p in problems_from_model(model, config))
        raise SourceError(f"source '{source_name}': invalid config: {details}") from None


def validate_file_config(
    model: type[FileSourceConfig], config: Mapping[str, Any], config_dir: Path | None = None
) -> list[ConfigProblem]:
    """``validate_config`` of a file source: the model's problems, else the "no file yet" warning."""
    return problems_from_model(model, config) or missing_file_warnings(config["file_path"], config_dir=config_dir)


def files_to_read(
    model: type[ConfigT], config: Mapping[str, Any], source_name: str, state: FetchState,
    config_dir: Path | None = None,
) -> tuple[ConfigT, list[Path]]:
    """Start a file source's fetch: its parsed ``config`` and the files to read (a relative ``file_path``
    under ``config_dir``), in path order.

    The list is empty when ``watch_for_changes`` found no change (``state.unchanged`` is then set).
    Raises :class:`SourceError` for an invalid config or when no file matches.
    """
    parsed = parse_config(model, config, source_name)
    files = matching_files(parsed.file_path, source_name, config_dir)
    if skip_if_unchanged(files, parsed.watch_for_changes, state, source_name):
        return parsed, []
    return parsed, files
