"""A C-FIND response as the bytes pydicom writes, without pydicom's per-element machinery.

For the two transfer syntaxes modalities use, Implicit and Explicit VR Little Endian (PS3.5 7.1): the
string VRs (text in UTF-8 when the response declares ``ISO_IR 192``, every other string in pydicom's
default ISO 8859-1), empty elements and sequences (defined lengths for the sequence and its items, as
pydicom writes them) are encoded here. Any other element (numbers, DS, IS, AT, or a string too long for
an explicit VR's 16-bit length, which pydicom writes as UN) is written by pydicom's own
``write_data_element``, one element at a time. The same normalisations as pydicom's data elements: a UID
loses surrounding spaces, values are padded to even length (UI with NUL, others with a space).
``tests/core/dicom/test_encoding.py`` compares every VR with pydicom's encoding of the same dataset.
"""

from __future__ import annotations

import struct
from typing import Any

from pydicom.config import IGNORE
from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import DataElement
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pydicom.tag import Tag
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32

from pylantir.dicom.responses import STRING_VRS, TEXT_VRS, Element, Response, UnencodableValue

#: What pydicom writes strings with when no other character set applies (its ``default_encoding``).
DEFAULT_CODEC = "latin-1"
UTF8_CODEC = "utf-8"
_LONG_LENGTH = frozenset(str(vr) for vr in EXPLICIT_VR_LENGTH_32)
_ITEM = struct.pack("<HH", 0xFFFE, 0xE000)
_IMPLICIT_HEADER = struct.Struct("<HHL")
_EXPLICIT_HEADER = struct.Struct("<HH2sH")
_EXPLICIT_LONG_HEADER = struct.Struct("<HH2s2xL")
_UL = struct.Struct("<L")
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
        if not self.implicit and len(data) > _MAX_SHORT_LENGTH and vr not in _LONG_LENGTH:
            return self.by_pydicom(tag, vr, value)
        return self.header(tag, vr, len(data)) + data

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
