"""Datasets received from a peer, decoded whole or refused: C-FIND identifiers, MPPS attribute lists.

pydicom reads a damaged dataset without complaint: a value cut short is returned shorter, a header cut
short ends the dataset, so a corrupt N-SET would read as a smaller, valid-looking one (and be answered
Success with nothing stored). :func:`decode_received` therefore first walks the element headers (tag, VR,
length) in the negotiated transfer syntax, into sequences and items, and refuses bytes that are not exactly
whole data elements; it then decodes with pydicom and converts every value, so that nothing fails later
while the dataset is matched, stored or answered.
"""

from __future__ import annotations

import struct
import zlib
from io import BytesIO

from pydicom import Dataset
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.filereader import read_dataset
from pydicom.valuerep import VR
from pynetdicom.events import Event

ITEM = 0xFFFEE000
ITEM_END = 0xFFFEE00D
SEQUENCE_END = 0xFFFEE0DD
UNDEFINED_LENGTH = 0xFFFFFFFF
#: Nesting deeper than this is refused (no MWL or MPPS dataset comes near it; it bounds recursion).
MAX_DEPTH = 16
# Explicit VR: these VRs have two reserved bytes and a 4-byte length (PS3.5 7.1.2).
_LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
_KNOWN_VRS = frozenset(vr.value for vr in VR)


class UndecodableDataset(ValueError):
    """A received dataset that is not whole or cannot be decoded; ``tag`` is the element at fault, if known."""

    def __init__(self, reason: str, tag: int | None = None):
        super().__init__(reason)
        self.tag = tag


def decode_received(event: Event, parameter: str) -> Dataset:
    """The request's dataset ``parameter`` (``Identifier``, ``AttributeList``, ``ModificationList``), decoded.

    Raises :class:`UndecodableDataset` when its bytes are not whole data elements or a value cannot be
    decoded. Every value is converted before the dataset is returned.
    """
    syntax = event.context.transfer_syntax
    stream = getattr(event.request, parameter, None)
    data = stream.getvalue() if stream is not None else b""
    if syntax.is_deflated:
        try:
            data = zlib.decompress(data, -zlib.MAX_WBITS)
        except zlib.error as exc:
            raise UndecodableDataset("it cannot be inflated (deflate)") from exc
    implicit, little = syntax.is_implicit_VR, syntax.is_little_endian
    _Framing(data, implicit, little).elements(len(data), None, 0)
    try:
        dataset = read_dataset(BytesIO(data), implicit, little)
    except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds; all mean "cannot be decoded"
        raise UndecodableDataset(f"cannot be decoded ({type(exc).__name__})") from exc
    _convert_values(dataset, 0)
    return dataset


def _convert_values(dataset: Dataset, depth: int) -> None:
    """Convert every raw element (pydicom defers it to first access), items included."""
    for tag in list(dataset.keys()):
        try:
            element = dataset[tag]
        except Exception as exc:  # noqa: BLE001 - a value pydicom cannot convert
            raise UndecodableDataset(f"a value cannot be decoded ({type(exc).__name__})", int(tag)) from exc
        if element.VR == VR.SQ:
            for item in element.value:
                _convert_values(item, depth + 1)


class _Framing:
    """Walks element headers; raises :class:`UndecodableDataset` at the first one that does not fit."""

    def __init__(self, data: bytes, implicit: bool, little_endian: bool):
        self.data, self.implicit, self.little_endian = data, implicit, little_endian
        order = "<" if little_endian else ">"
        self._tag_length = struct.Struct(order + "HHL")
        self._explicit = struct.Struct(order + "HH2sH")
        self._long_length = struct.Struct(order + "L")
        self.position = 0

    def elements(self, end: int, delimiter: int | None, depth: int) -> None:
        """Data elements up to ``end``, or up to and including ``delimiter`` (an undefined-length item)."""
        if depth > MAX_DEPTH:
            raise UndecodableDataset(f"sequences nested deeper than {MAX_DEPTH}")
        while delimiter is not None or self.position < end:
            tag, vr, length = self._header(end)
            if tag == delimiter:
                self._expect_empty(tag, length)
                return
            if tag >> 16 == 0xFFFE:
                raise UndecodableDataset("an item or delimiter where a data element belongs", tag)
            if vr == "UN" and length == UNDEFINED_LENGTH:
                # PS3.5 6.2.2: a UN sequence of undefined length is encoded in Implicit VR Little Endian.
                inner = _Framing(self.data, True, True)
                inner.position = self.position
                inner.items(tag, length, end, depth)
                self.position = inner.position
            elif vr == "SQ" or (self.implicit and _is_sequence(tag, length)):
                self.items(tag, length, end, depth)
            elif length == UNDEFINED_LENGTH:
                raise UndecodableDataset("undefined length outside a sequence", tag)
            else:
                self.position = self._value_end(tag, length, end)

    def items(self, tag: int, length: int, bound: int, depth: int) -> None:
        """The items of sequence ``tag`` (defined length, or up to its Sequence Delimitation Item)."""
        end = bound if length == UNDEFINED_LENGTH else self._value_end(tag, length, bound, advance=False)
        while length == UNDEFINED_LENGTH or self.position < end:
            item_tag, item_length = self._item_header(tag, end)
            if item_tag == SEQUENCE_END and length == UNDEFINED_LENGTH:
                self._expect_empty(tag, item_length)
                return
            if item_tag != ITEM:
                raise UndecodableDataset("a sequence holds something other than items", tag)
            if item_length == UNDEFINED_LENGTH:
                self.elements(end, ITEM_END, depth + 1)
            else:
                self.elements(self._value_end(tag, item_length, end, advance=False), None, depth + 1)

    def _header(self, end: int) -> tuple[int, str | None, int]:
        start = self.position
        if start + 8 > end:
            raise UndecodableDataset("it ends inside an element header")
        if self.implicit:
            group, element, length = self._tag_length.unpack_from(self.data, start)
            self.position = start + 8
            return group << 16 | element, None, length
        group, element, raw_vr, short_length = self._explicit.unpack_from(self.data, start)
        tag = group << 16 | element
        if group == 0xFFFE:  # items and delimiters carry no VR
            self.position = start + 8
            return tag, None, self._long_length.unpack_from(self.data, start + 4)[0]
        vr = raw_vr.decode("latin-1")
        if vr not in _KNOWN_VRS:
            raise UndecodableDataset("an element has no valid VR", tag)
        if vr in _LONG_VRS:
            if start + 12 > end:
                raise UndecodableDataset("it ends inside an element header", tag)
            self.position = start + 12
            return tag, vr, self._long_length.unpack_from(self.data, start + 8)[0]
        self.position = start + 8
        return tag, vr, short_length

    def _item_header(self, sequence: int, end: int) -> tuple[int, int]:
        if self.position + 8 > end:
            raise UndecodableDataset("a sequence ends inside an item header", sequence)
        group, element, length = self._tag_length.unpack_from(self.data, self.position)
        self.position += 8
        return group << 16 | element, length

    def _value_end(self, tag: int, length: int, end: int, advance: bool = True) -> int:
        value_end = self.position + length
        if value_end > end:
            raise UndecodableDataset("a value is cut short", tag)
        if advance:
            self.position = value_end
        return value_end

    @staticmethod
    def _expect_empty(tag: int, length: int) -> None:
        if length != 0:
            raise UndecodableDataset("a delimiter with a length", tag)


def _is_sequence(tag: int, length: int) -> bool:
    """Implicit VR: undefined length means a sequence here; else ask the dictionary."""
    if length == UNDEFINED_LENGTH:
        return True
    try:
        return dictionary_VR(tag) == "SQ"
    except KeyError:
        return False


def describe_tag(tag: int) -> str:
    """``(0010,0020) PatientID`` (the tag alone for a private element), for logs and Error Comments."""
    keyword = keyword_for_tag(tag)
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X}){f' {keyword}' if keyword else ''}"
