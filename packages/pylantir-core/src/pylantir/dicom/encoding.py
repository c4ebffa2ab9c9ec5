"""A C-FIND response as the bytes pydicom writes, without pydicom's per-element machinery.

For the two transfer syntaxes modalities use, Implicit and Explicit VR Little Endian (PS3.5 7.1): the
string VRs (text in UTF-8 when the response declares ``ISO_IR 192``, every other string in pydicom's
default ISO 8859-1), empty elements and sequences (defined lengths for the sequence and its items, as
pydicom writes them) are encoded here. Any other element (numbers, DS, IS, AT, or a string too long for
an explicit VR's 16-bit length, which pydicom writes as UN) is written by pydicom's own
``write_data_element``, one element at a time. The same normalisations as pydicom's data elements: a UID
loses surrounding spaces, values are padded to even length (UI with NUL, others with a space).
``tests/core/dicom/test_encoding.py`` compares every VR with pydicom's encoding of the same dataset.

:class:`IdentifierEncoder` writes the same bytes straight from the rows of a C-FIND's matches: the request's
plan is compiled once into each element's header bytes and the index of its column in the row, so that a
match is its values copied between prepared headers (``tests/core/dicom/test_identifier_encoder.py`` compares
it with :func:`encode_response` of :func:`~pylantir.dicom.responses.build_response` on every kind of key).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import partial
from typing import Any

from pydicom.config import IGNORE
from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import DataElement
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pydicom.tag import Tag
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32
from sqlalchemy import Row

from pylantir.dicom.attributes import SPS_SEQUENCE, STEP_LEVEL, TOP_LEVEL, IdentifierLevel
from pylantir.dicom.responses import (
    CHARACTER_SET_TAG,
    STRING_VRS,
    TEXT_VRS,
    Element,
    RequestKey,
    RequestPlan,
    Response,
    UnencodableValue,
    build_response,
    key_elements,
)
from pylantir.store.catalogue import Fallback
from pylantir.store.queries import ANSWER_COLUMNS

#: What pydicom writes strings with when no other character set applies (its ``default_encoding``).
DEFAULT_CODEC = "latin-1"
UTF8_CODEC = "utf-8"
_LONG_LENGTH = frozenset(str(vr) for vr in EXPLICIT_VR_LENGTH_32)
_ITEM = struct.pack("<HH", 0xFFFE, 0xE000)
_IMPLICIT_HEADER = struct.Struct("<HHL")
_EXPLICIT_HEADER = struct.Struct("<HH2sH")
_EXPLICIT_LONG_HEADER = struct.Struct("<HH2s2xL")
_UL = struct.Struct("<L")
_US = struct.Struct("<H")
_MAX_SHORT_LENGTH = 0xFFFF


def encode_response(response: Response, implicit: bool) -> bytes:
    """``response`` encoded in Implicit (``implicit``) or Explicit VR Little Endian.

    Raises :class:`UnencodableValue` for a value its VR's character repertoire cannot hold.
    """
    return _Encoder(implicit, UTF8_CODEC if response.non_ascii else DEFAULT_CODEC).elements(response.elements)


class _Encoder:
    def __init__(self, implicit: bool, text_codec: str):
        self.implicit = implicit
        self.text_codec = text_codec

    def elements(self, elements: list[Element]) -> bytes:
        return b"".join([self.element(tag, vr, value) for tag, vr, value in elements])

    def element(self, tag: int, vr: str, value: Any) -> bytes:
        if vr == "SQ":
            items = b"".join([_ITEM + _UL.pack(len(data)) + data for data in map(self.elements, value)])
            return self.header(tag, vr, len(items)) + items
        if value is None:
            return self.header(tag, vr, 0)
        if vr not in STRING_VRS:
            return self.by_pydicom(tag, vr, value)
        try:
            data = _string(vr, value).encode(self.text_codec if vr in TEXT_VRS else DEFAULT_CODEC)
        except UnicodeEncodeError as exc:
            raise UnencodableValue(keyword_for_tag(tag) or str(Tag(tag)), vr) from exc
        if len(data) % 2:
            data += b"\0" if vr == "UI" else b" "
        if self.short_length(vr) and len(data) > _MAX_SHORT_LENGTH:
            return self.by_pydicom(tag, vr, value)
        return self.header(tag, vr, len(data)) + data

    def short_length(self, vr: str) -> bool:
        """Whether an element of ``vr`` has a 16-bit length (Explicit VR, but for the VRs with a 32-bit one)."""
        return not self.implicit and vr not in _LONG_LENGTH

    def header(self, tag: int, vr: str, length: int) -> bytes:
        group, number = tag >> 16, tag & 0xFFFF
        if self.implicit:
            return _IMPLICIT_HEADER.pack(group, number, length)
        if vr in _LONG_LENGTH:
            return _EXPLICIT_LONG_HEADER.pack(group, number, vr.encode(), length)
        return _EXPLICIT_HEADER.pack(group, number, vr.encode(), length)

    def by_pydicom(self, tag: int, vr: str, value: Any) -> bytes:
        """One element as pydicom writes it (the VRs not encoded here)."""
        buffer = DicomBytesIO()
        buffer.is_little_endian = True
        buffer.is_implicit_VR = self.implicit
        try:
            write_data_element(buffer, DataElement(tag, vr, value, validation_mode=IGNORE),
                               ["UTF8" if self.text_codec == UTF8_CODEC else "iso8859"])
        except (ValueError, TypeError, OverflowError, struct.error) as exc:
            raise UnencodableValue(keyword_for_tag(tag) or str(Tag(tag)), vr) from exc
        return buffer.getvalue()


def _string(vr: str, value: str | list[str]) -> str:
    """The text of a string element's value(s), backslash-separated; a UID's values stripped as pydicom does."""
    if vr == "UI":
        values = value if isinstance(value, list) else value.split("\\")
        return "\\".join([single.strip() for single in values])
    return value if isinstance(value, str) else "\\".join(value)


class _GeneralPath(Exception):
    """A row that the compiled plan does not write (non-ASCII text, an unusual value): build it in full."""


#: A compiled string column: the row index, fallback, header before the length, the length's packing, the
#: padding byte, whether a UID (values stripped), the whole element when empty.
_Column = tuple[int, Fallback | None, bytes, Callable[[int], bytes], bytes, bool, bytes]
_COLUMN, _SEQUENCE, _KEY, _CONSTANT = range(4)
_Step = tuple[int, Any]


class IdentifierEncoder:
    """The identifiers of one request's matches in one little-endian transfer syntax, from rows of
    :data:`~pylantir.store.queries.ANSWER_COLUMNS`: :func:`encode_response` of
    :func:`~pylantir.dicom.responses.build_response`, byte for byte, without building either.

    Each key of the plan that is a string column of its level (and the Scheduled Procedure Step item of
    such keys) is compiled into its header bytes and its column's index; any other key (numbers, code
    sequences, extras, a universal step item) is built by :func:`~pylantir.dicom.responses.key_elements` and
    encoded here. A row with text that is not ASCII (a response in ISO_IR 192), a value of another type or
    over 64 KiB, or a value that cannot be encoded, takes the general path, which raises
    :class:`UnencodableValue` where due.
    """

    def __init__(self, plan: RequestPlan, implicit: bool):
        self.plan = plan
        self.implicit = implicit
        self.encoder = _Encoder(implicit, DEFAULT_CODEC)
        self.steps: list[_Step] | None = None
        if not plan.everything:
            steps = self._compile(plan.keys, TOP_LEVEL)
            if plan.character_set:  # the general path's empty Specific Character Set, at its place by tag
                steps.append((CHARACTER_SET_TAG, (_CONSTANT, self.encoder.header(CHARACTER_SET_TAG, "CS", 0))))
                steps.sort(key=_first)
            self.steps = [step for _, step in steps]

    def encode(self, row: Row[Any]) -> bytes:
        """The identifier of the match ``row`` (raises :class:`UnencodableValue`)."""
        compiled = self.compiled(row)
        if compiled is not None:
            return compiled
        return encode_response(build_response(row, self.plan), self.implicit)

    def compiled(self, row: Row[Any]) -> bytes | None:
        """The identifier of ``row`` written by the compiled plan, or ``None`` when the row takes the general
        path (which gives the same bytes, or names the value that cannot be encoded)."""
        if self.steps is None:
            return None
        try:
            return self._write(row, self.steps)
        except (_GeneralPath, UnencodableValue):
            return None

    def _compile(self, keys: tuple[RequestKey, ...], level: IdentifierLevel) -> list[tuple[int, _Step]]:
        steps: list[tuple[int, _Step]] = []
        for key in keys:
            entry = level.attributes.get(key.keyword) if key.keyword else None
            if key.vr == "SQ" and key.keyword == SPS_SEQUENCE and level is TOP_LEVEL and key.item:
                nested = [step for _, step in self._compile(key.item, STEP_LEVEL)]
                steps.append((key.tag, (_SEQUENCE, (self.encoder.header(key.tag, "SQ", 0)[:-4], nested))))
            elif key.vr != "SQ" and key.vr in STRING_VRS and entry is not None:
                uid = key.vr == "UI"
                empty = self.encoder.header(key.tag, key.vr, 0)
                short = self.encoder.short_length(key.vr)
                # the header up to its length field, then the length packed in that field's width
                column: _Column = (ANSWER_COLUMNS.index(entry.column), entry.fallback, empty[:-2 if short else -4],
                                   _US.pack if short else _UL.pack, b"\0" if uid else b" ", uid, empty)
                steps.append((key.tag, (_COLUMN, column)))
            else:
                steps.append((key.tag, (_KEY, (key, level))))
        return steps

    def _write(self, row: Row[Any], steps: list[_Step]) -> bytes:
        parts: list[bytes] = []
        for kind, step in steps:
            if kind == _COLUMN:
                index, fallback, prefix, length, pad, uid, empty = step
                value = row[index]
                if (value is None or value == "") and fallback is not None:
                    value = fallback.value(partial(getattr, row))
                if value is None or value == "":
                    parts.append(empty)
                    continue
                if type(value) is not str or not value.isascii():
                    raise _GeneralPath
                if uid:
                    value = _string("UI", value)
                data = value.encode()
                if len(data) % 2:
                    data += pad
                if len(data) > _MAX_SHORT_LENGTH:
                    raise _GeneralPath
                parts.append(prefix + length(len(data)) + data)
            elif kind == _SEQUENCE:
                prefix, nested = step
                data = self._write(row, nested)
                parts.append(prefix + _UL.pack(len(data) + 8) + _ITEM + _UL.pack(len(data)) + data)
            elif kind == _KEY:
                elements, non_ascii = key_elements(row, *step)
                if non_ascii:
                    raise _GeneralPath
                parts.append(self.encoder.elements(elements))
            else:
                parts.append(step)
        return b"".join(parts)


def _first(step: tuple[int, _Step]) -> int:
    return step[0]
