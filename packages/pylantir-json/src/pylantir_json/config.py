"""The ``config`` object of a ``json`` source, as a pydantic model (validated without any I/O)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from pylantir.filesource import FileSourceConfig


class JsonConfig(FileSourceConfig):
    """The ``config`` object of a ``json`` source.

    ``format``: ``"array"`` (the file is an array of record objects), ``"object"`` (the array is inside
    an object, at the dotted ``records_path``) or ``"jsonl"`` (JSON Lines: one record object per line).
    """

    format: Literal["array", "object", "jsonl"] = "array"
    records_path: str | None = Field(None, validate_default=True)

    @field_validator("records_path")
    @classmethod
    def _path_for_object_format(cls, value: str | None, info: ValidationInfo) -> str | None:
        file_format = info.data.get("format")
        if file_format == "object" and value is None:
            raise PydanticCustomError(
                "records_path", "required with format 'object': the dotted path to the array of records"
            )
        if file_format in ("array", "jsonl") and value is not None:
            raise PydanticCustomError(
                "records_path", "only used with format 'object' (the format here is '{format}')",
                {"format": file_format},
            )
        if value is not None and not all(value.split(".")):
            raise PydanticCustomError("records_path", "must be keys separated by single dots, e.g. 'data.items'")
        return value

    def records_keys(self) -> list[str]:
        """``records_path`` split into keys (empty for the other formats)."""
        return self.records_path.split(".") if self.records_path else []
