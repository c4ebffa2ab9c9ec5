"""Build a C-FIND response identifier from a worklist item (PS3.4 K.2.2.1.2, K.4.1.1.3, Table K.6-1).

Exactly the requested attributes, in the requested nesting, each in its data dictionary VR: Type 1 keys
always carry a value (the catalogue's documented fallback when the column is empty,
:mod:`pylantir.store.catalogue`), Type 1C code sequences are left out when no code is stored, other keys
are returned empty when nothing is stored. Values not kept in a column come from the level's extras
(``WorklistItem.extra_attributes`` at the top level, ``extra_step_attributes`` in the Scheduled Procedure
Step item). Specific Character Set is set to ``ISO_IR 192`` when any returned text is not ASCII.

A stored value that its VR cannot encode (text in a US element, say) raises :class:`UnencodableValue`
naming the attribute, so that the caller can leave that one item out instead of the whole answer failing.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydicom import Dataset
from pydicom.config import IGNORE, RAISE
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.valuerep import DSfloat, validate_value

from pylantir.dicom.attributes import SPS_SEQUENCE, STEP_LEVEL, TOP_LEVEL, IdentifierLevel, stored_value
from pylantir.store.models import WorklistItem

UTF8 = "ISO_IR 192"
CHARACTER_SET = "SpecificCharacterSet"
TIMEZONE_OFFSET = "TimezoneOffsetFromUTC"
TEXT_VRS = frozenset({"LO", "LT", "PN", "SH", "ST", "UC", "UT"})
STRING_VRS = TEXT_VRS | {"AE", "AS", "CS", "DA", "DT", "TM", "UI", "UR"}
#: VRs whose values are numbers in the encoding: a stored value of another type cannot be sent.
BINARY_VRS = frozenset({"US", "SS", "UL", "SL", "UV", "SV", "FL", "FD"})
MAX_TAG = 0xFFFFFFFF


class UnencodableValue(ValueError):
    """A stored value that the attribute's VR cannot encode (the message names no value: patient data)."""

    def __init__(self, keyword: str, vr: str):
        super().__init__(f"{keyword}: the stored value cannot be encoded as VR {vr}")
        self.keyword = keyword
        self.vr = vr


@cache
def _response_vr(tag: int, requested: str) -> str:
    """The VR a response element takes: the data dictionary's (the request's for private or ambiguous ones)."""
    try:
        vr = dictionary_VR(tag)
    except KeyError:
        return requested
    return requested if " or " in vr else vr


class _Builder:
    """Builds one response; remembers whether any text needs a non-default character set."""

    def __init__(self, item: WorklistItem):
        self.item = item
        self.non_ascii = False

    def stored(self, column: str) -> Any:
        """The item's value of ``column`` (what the catalogue's fallbacks and code sequences read)."""
        return getattr(self.item, column)

    def level(self, request: Dataset, level: IdentifierLevel) -> Dataset:
        response = Dataset()
        for element in request:
            keyword = element.keyword
            if keyword in (CHARACTER_SET, TIMEZONE_OFFSET):
                continue
            if element.VR == "SQ":
                if keyword in level.codes and level.codes[keyword].item(self.stored) is None:
                    continue  # Type 1C: no code stored, no sequence
                response.add(DataElement(element.tag, "SQ", self.sequence(keyword, element.value, level)))
                continue
            value = stored_value(self.item, level, keyword) if keyword else None
            entry = level.attributes.get(keyword)
            if value in (None, "") and entry is not None and entry.fallback is not None:
                value = entry.fallback.value(self.stored)
            response.add(self.element(element.tag, _response_vr(element.tag, element.VR), value, keyword))
        return response

    def sequence(self, keyword: str, requested: Sequence, level: IdentifierLevel) -> Sequence:
        request_item = requested[0] if len(requested) else Dataset()
        if keyword == SPS_SEQUENCE and level is TOP_LEVEL:
            return Sequence([self.level(request_item or self.full_item(STEP_LEVEL), STEP_LEVEL)])
        if keyword in level.codes:
            code = level.codes[keyword].item(self.stored)
            stored = [code] if code else []
        else:
            stored = stored_value(self.item, level, keyword) or []
        return Sequence([self.json_item(entry, request_item) for entry in stored if isinstance(entry, dict)])

    def full_item(self, level: IdentifierLevel) -> Dataset:
        """A request item asking for everything kept at ``level`` (universal sequence matching): every
        column and code sequence, and the item's own extras."""
        item = Dataset()
        for keyword in [*level.attributes, *level.codes, *level.stored_extras(self.item)]:
            tag = Tag(keyword)
            vr = dictionary_VR(tag)
            item.add(DataElement(tag, vr, [] if vr == "SQ" else None))
        return item

    def json_item(self, stored: dict[str, Any], request_item: Dataset) -> Dataset:
        """One sequence item from stored ``{keyword: value}``: the requested keys, or all when none."""
        item = Dataset()
        keywords = [e.keyword for e in request_item] if len(request_item) else list(stored)
        for keyword in keywords:
            tag = tag_for_keyword(keyword) if keyword else None
            if tag is None:
                continue
            vr = dictionary_VR(tag)
            value = stored.get(keyword)
            if vr == "SQ":
                nested = request_item[keyword].value if keyword in request_item else []
                nested_request = nested[0] if len(nested) else Dataset()
                item.add(DataElement(tag, "SQ", Sequence(
                    [self.json_item(entry, nested_request) for entry in value or [] if isinstance(entry, dict)]
                )))
            else:
                item.add(self.element(tag, vr, value, keyword))
        return item

    def element(self, tag: Any, vr: str, value: Any, keyword: str) -> DataElement:
        if value is None or value == "" or value == []:
            return DataElement(tag, vr, None, validation_mode=IGNORE)
        try:
            value = _encodable(vr, value)
        except (ValueError, TypeError, OverflowError) as exc:
            raise UnencodableValue(keyword or str(Tag(tag)), vr) from exc
        if vr in TEXT_VRS and not _is_ascii(value):
            self.non_ascii = True
        return DataElement(tag, vr, value, validation_mode=IGNORE)


def _encodable(vr: str, value: Any) -> Any:
    """``value`` in the form pydicom encodes for ``vr``; raises when no such form exists."""
    if isinstance(value, list):
        return [_encodable(vr, single) for single in value]
    if vr == "DS":
        return DSfloat(value, auto_format=True)
    if vr in STRING_VRS:
        return str(value)
    if vr in BINARY_VRS:
        validate_value(vr, value, RAISE)  # type and range
    elif vr == "IS":
        validate_value(vr, str(value), RAISE)  # an integer or its text
    elif vr == "AT" and not (isinstance(value, int) and 0 <= value <= MAX_TAG):
        raise ValueError("not a tag")
    return value


def _is_ascii(value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    return all(str(v).isascii() for v in values)


def build_response(item: WorklistItem, request: Dataset) -> Dataset:
    """The response identifier for ``item``: every requested key, nothing else but Specific Character Set.

    Raises :class:`UnencodableValue` when a requested attribute's stored value cannot be encoded.
    """
    builder = _Builder(item)
    response = builder.level(request, TOP_LEVEL)
    if builder.non_ascii:
        response.SpecificCharacterSet = UTF8
    elif CHARACTER_SET in request:
        response.SpecificCharacterSet = None
    return response


def everything_request(item: WorklistItem, request: Dataset) -> Dataset:
    """``request`` widened to every attribute ``item`` stores (DICOMweb's ``includefield=all``): each column,
    code sequence and extra at both levels, beside the request's own keys."""
    builder = _Builder(item)
    widened = builder.full_item(TOP_LEVEL)
    step = builder.full_item(STEP_LEVEL)
    for element in request:
        if element.keyword == SPS_SEQUENCE:
            for key in element.value[0] if len(element.value) else []:
                step[key.tag] = key
        else:
            widened[element.tag] = element
    widened.add(DataElement(Tag(SPS_SEQUENCE), "SQ", Sequence([step])))
    return widened
