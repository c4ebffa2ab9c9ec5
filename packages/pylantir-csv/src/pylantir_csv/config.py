"""The ``config`` object of a ``csv`` source, as a pydantic model (validated without any I/O)."""

from __future__ import annotations

import codecs
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from pylantir.filesource import FileSourceConfig

DELIMITERS = {",": ",", ";": ";", "\t": "\t", "tab": "\t", "|": "|"}
_ASCII_PROBE = "\n\r,;\t|\"'abcAZ09"


class RowFilter(BaseModel):
    """Keep only the rows whose ``column`` equals ``equals`` or is one of ``in`` (values compared stripped)."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    column: str
    equals: str | None = None
    in_: list[str] | None = Field(None, alias="in")

    @model_validator(mode="after")
    def _exactly_one_test(self) -> RowFilter:
        if (self.equals is None) == (self.in_ is None):
            raise PydanticCustomError("filter", "give exactly one of 'equals' and 'in'")
        return self

    def accepts(self, value: str) -> bool:
        """Whether a row whose filter column holds ``value`` is kept."""
        value = value.strip()
        return value == self.equals if self.in_ is None else value in self.in_


class CsvConfig(FileSourceConfig):
    """The ``config`` object of a ``csv`` source.

    ``delimiter``: ``","``, ``";"``, ``"\\t"`` (or ``"tab"``) or ``"|"``; sniffed from the header row when
    omitted. ``skip_rows``: lines to skip before the header row. ``filter``: a :class:`RowFilter`.
    """

    delimiter: Literal[",", ";", "\t", "tab", "|"] | None = None
    skip_rows: int = Field(0, ge=0)
    filter: RowFilter | None = None

    @field_validator("encoding")
    @classmethod
    def _ascii_compatible(cls, value: str) -> str:
        name = codecs.lookup(value).name
        if name not in ("utf-8", "utf-8-sig") and _ASCII_PROBE.encode(name) != _ASCII_PROBE.encode():
            raise PydanticCustomError(
                "encoding",
                "encoding '{value}' is not supported for CSV (it is not ASCII-compatible); "
                "save the file as UTF-8",
                {"value": value},
            )
        return value

    def delimiter_char(self) -> str | None:
        """The configured delimiter as a character (``"tab"`` -> ``"\\t"``), or None to sniff it."""
        return None if self.delimiter is None else DELIMITERS[self.delimiter]
