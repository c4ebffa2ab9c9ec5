"""Build a C-FIND response identifier from a worklist item (PS3.4 K.2.2.1.2, K.4.1.1.3, Table K.6-1).

Exactly the requested attributes, in the requested nesting: Type 1 keys always carry a value (the catalogue's
documented fallback when the column is empty, :mod:`pylantir.store.catalogue`), other keys are returned
empty when nothing is stored. Values not kept in
a column come from ``WorklistItem.extra_attributes`` (by keyword). Specific Character Set is set to
``ISO_IR 192`` when any returned text is not ASCII.
"""

from __future__ import annotations

from typing import Any

from pydicom import Dataset
from pydicom.config import IGNORE
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.valuerep import DSfloat

from pylantir.dicom.attributes import SPS_SEQUENCE, STEP_LEVEL, TOP_LEVEL, IdentifierLevel, stored_value
from pylantir.store.models import WorklistItem

UTF8 = "ISO_IR 192"
CHARACTER_SET = "SpecificCharacterSet"
TIMEZONE_OFFSET = "TimezoneOffsetFromUTC"
TEXT_VRS = frozenset({"LO", "LT", "PN", "SH", "ST", "UC", "UT"})


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
                response.add(DataElement(element.tag, "SQ", self.sequence(keyword, element.value, level)))
                continue
            value = stored_value(self.item, level, keyword) if keyword else None
            entry = level.attributes.get(keyword)
            if value in (None, "") and entry is not None and entry.fallback is not None:
                value = entry.fallback.value(self.stored)
            response.add(self.element(element.tag, element.VR, value))
        return response

    def sequence(self, keyword: str, requested: Sequence, level: IdentifierLevel) -> Sequence:
        request_item = requested[0] if len(requested) else Dataset()
        if keyword == SPS_SEQUENCE and level is TOP_LEVEL:
            return Sequence([self.level(request_item or _full_item(STEP_LEVEL), STEP_LEVEL)])
        if keyword in level.codes:
            code = level.codes[keyword].item(self.stored)
            stored = [code] if code else []
        else:
            stored = stored_value(self.item, level, keyword) or []
        return Sequence([self.json_item(entry, request_item) for entry in stored if isinstance(entry, dict)])

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
                item.add(self.element(tag, vr, value))
        return item

    def element(self, tag: Any, vr: str, value: Any) -> DataElement:
        if value is None or value == "":
            return DataElement(tag, vr, None, validation_mode=IGNORE)
        if vr == "DS":
            value = [DSfloat(v, auto_format=True) for v in value] if isinstance(value, list) else DSfloat(
                value, auto_format=True
            )
        elif vr in TEXT_VRS or vr in ("AE", "CS", "DA", "TM", "DT", "UI"):
            value = [str(v) for v in value] if isinstance(value, list) else str(value)
        if vr in TEXT_VRS and not _is_ascii(value):
            self.non_ascii = True
        return DataElement(tag, vr, value, validation_mode=IGNORE)


def _is_ascii(value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    return all(str(v).isascii() for v in values)


def _full_item(level: IdentifierLevel) -> Dataset:
    """A request item asking for every attribute we keep at one level (universal sequence matching)."""
    item = Dataset()
    for keyword in [*level.attributes, *level.codes]:
        tag = Tag(keyword)
        item.add(DataElement(tag, dictionary_VR(tag), [] if keyword in level.codes else None))
    return item


def build_response(item: WorklistItem, request: Dataset) -> Dataset:
    """The response identifier for ``item``: every requested key, nothing else but Specific Character Set."""
    builder = _Builder(item)
    response = builder.level(request, TOP_LEVEL)
    if builder.non_ascii:
        response.SpecificCharacterSet = UTF8
    elif CHARACTER_SET in request:
        response.SpecificCharacterSet = None
    return response
