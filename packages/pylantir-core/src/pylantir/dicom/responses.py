"""Build a C-FIND response identifier from a worklist item (PS3.4 K.2.2.1.2, K.4.1.1.3, Table K.6-1).

Exactly the requested attributes, in the requested nesting: Type 1 keys always carry a value (a documented
fallback when the column is empty), other keys are returned empty when nothing is stored. Values not kept in
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
from pydicom.valuerep import DSfloat

from pylantir.dicom.attributes import (
    SPS_CODES,
    SPS_COLUMNS,
    SPS_SEQUENCE,
    TOP_LEVEL_CODES,
    TOP_LEVEL_COLUMNS,
    column_value,
)
from pylantir.store.models import WorklistItem

UTF8 = "ISO_IR 192"
CHARACTER_SET = "SpecificCharacterSet"
TIMEZONE_OFFSET = "TimezoneOffsetFromUTC"
TEXT_VRS = frozenset({"LO", "LT", "PN", "SH", "ST", "UC", "UT"})


def _type1_fallbacks(item: WorklistItem) -> dict[str, str]:
    """Values returned for Type 1 keys whose column is empty (see docs/conformance.md)."""
    return {
        "PatientName": "UNKNOWN",
        "ScheduledStationAETitle": "UNASSIGNED",
        "ScheduledProcedureStepStartTime": (item.scheduled_start or "")[8:14] or "000000",
        "ScheduledProcedureStepID": str(item.id),
        "RequestedProcedureID": str(item.id),
        "ScheduledProcedureStepDescription": item.protocol_name or "",
        "RequestedProcedureDescription": item.requested_procedure_code_meaning or "",
    }


class _Builder:
    """Builds one response; remembers whether any text needs a non-default character set."""

    def __init__(self, item: WorklistItem):
        self.item = item
        self.fallbacks = _type1_fallbacks(item)
        self.non_ascii = False

    def level(self, request: Dataset, columns: dict[str, str], codes: dict[str, tuple[str, str, str]]) -> Dataset:
        response = Dataset()
        for element in request:
            keyword = element.keyword
            if keyword in (CHARACTER_SET, TIMEZONE_OFFSET):
                continue
            if element.VR == "SQ":
                response.add(DataElement(element.tag, "SQ", self.sequence(keyword, element.value, columns, codes)))
                continue
            value = column_value(self.item, columns, keyword) if keyword else None
            if value in (None, "") and keyword in self.fallbacks:
                value = self.fallbacks[keyword]
            response.add(self.element(element.tag, element.VR, value))
        return response

    def sequence(
        self, keyword: str, requested: Sequence, columns: dict[str, str], codes: dict[str, tuple[str, str, str]]
    ) -> Sequence:
        request_item = requested[0] if len(requested) else Dataset()
        if keyword == SPS_SEQUENCE:
            return Sequence([self.level(request_item or _full_item(SPS_COLUMNS, SPS_CODES), SPS_COLUMNS, SPS_CODES)])
        if keyword in codes:
            stored = [self.code(codes[keyword])] if getattr(self.item, codes[keyword][0]) else []
        else:
            stored = column_value(self.item, columns, keyword) or []
        return Sequence([self.json_item(entry, request_item) for entry in stored if isinstance(entry, dict)])

    def code(self, columns: tuple[str, str, str]) -> dict[str, Any]:
        value, scheme, meaning = (getattr(self.item, column) for column in columns)
        return {"CodeValue": value, "CodingSchemeDesignator": scheme or "99PYLANTIR", "CodeMeaning": meaning or value}

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


def _full_item(columns: dict[str, str], codes: dict[str, tuple[str, str, str]]) -> Dataset:
    """A request item asking for every attribute we keep at one level (universal sequence matching)."""
    item = Dataset()
    for keyword in [*columns, *codes]:
        tag = tag_for_keyword(keyword)
        item.add(DataElement(tag, dictionary_VR(tag), [] if keyword in codes else None))
    return item


def build_response(item: WorklistItem, request: Dataset) -> Dataset:
    """The response identifier for ``item``: every requested key, nothing else but Specific Character Set."""
    builder = _Builder(item)
    response = builder.level(request, TOP_LEVEL_COLUMNS, TOP_LEVEL_CODES)
    if builder.non_ascii:
        response.SpecificCharacterSet = UTF8
    elif CHARACTER_SET in request:
        response.SpecificCharacterSet = None
    return response
