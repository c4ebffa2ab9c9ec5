"""Build a C-FIND response identifier from a worklist item (PS3.4 K.2.2.1.2, K.4.1.1.3, Table K.6-1).

Exactly the requested attributes, in the requested nesting, each in its data dictionary VR: Type 1 keys
always carry a value (the catalogue's documented fallback when the column is empty,
:mod:`pylantir.store.catalogue`), Type 1C code sequences are left out when no code is stored, other keys
are returned empty when nothing is stored. Values not kept in a column come from the level's extras
(``WorklistItem.extra_attributes`` at the top level, ``extra_step_attributes`` in the Scheduled Procedure
Step item). Specific Character Set is set to ``ISO_IR 192`` when any returned text is not ASCII.

The request is read once per C-FIND (:class:`RequestPlan`: each key's tag, keyword and response VR); each
match is then a :class:`Response`: its elements as ``(tag, VR, value)`` in tag order, a sequence's value
being its items' elements. :mod:`pylantir.dicom.encoding` turns that into the bytes pydicom would write;
:meth:`Response.dataset` is the same response as a pydicom ``Dataset``.

A stored value that its VR cannot encode (text in a US element, say) raises :class:`UnencodableValue`
naming the attribute, so that the caller can leave that one item out instead of the whole answer failing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from pydicom import Dataset
from pydicom.config import IGNORE, RAISE
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.valuerep import DSfloat, validate_value

from pylantir.dicom.attributes import (
    SPS_SEQUENCE,
    STEP_LEVEL,
    TOP_LEVEL,
    IdentifierLevel,
    StoredItem,
    stored_value,
)

UTF8 = "ISO_IR 192"
CHARACTER_SET = "SpecificCharacterSet"
CHARACTER_SET_TAG = 0x00080005
TIMEZONE_OFFSET = "TimezoneOffsetFromUTC"
TEXT_VRS = frozenset({"LO", "LT", "PN", "SH", "ST", "UC", "UT"})
STRING_VRS = TEXT_VRS | {"AE", "AS", "CS", "DA", "DT", "TM", "UI", "UR"}
#: VRs whose values are numbers in the encoding: a stored value of another type cannot be sent.
BINARY_VRS = frozenset({"US", "SS", "UL", "SL", "UV", "SV", "FL", "FD"})
MAX_TAG = 0xFFFFFFFF

#: One response element: tag, VR, value (``None`` when empty; for ``SQ`` a list of items' elements).
Element = tuple[int, str, Any]


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


@dataclass(frozen=True)
class RequestKey:
    """One key of the request: its tag, keyword (empty for unknown tags) and the VR its answer takes.

    ``item`` is a sequence key's first item, read the same way (empty: the request sent no item or an
    empty one, which asks for everything at that level).
    """

    tag: int
    keyword: str
    vr: str
    item: tuple[RequestKey, ...] = ()


@dataclass(frozen=True)
class RequestPlan:
    """A request identifier read once for all of its matches."""

    keys: tuple[RequestKey, ...]
    #: The request carries Specific Character Set: the response does too (empty when all text is ASCII).
    character_set: bool
    #: Every attribute each item stores too, beside the keys (DICOMweb's ``includefield=all``).
    everything: bool = False

    @classmethod
    def of(cls, request: Dataset, everything: bool = False) -> RequestPlan:
        """The plan of ``request`` (a decoded, checked identifier)."""
        return cls(_read_level(request), CHARACTER_SET in request, everything)


def _read_level(request: Dataset) -> tuple[RequestKey, ...]:
    keys = []
    for element in request:
        keyword = element.keyword
        if keyword in (CHARACTER_SET, TIMEZONE_OFFSET):
            continue
        tag = int(element.tag)
        if element.VR == "SQ":
            first = element.value[0] if len(element.value) else Dataset()
            keys.append(RequestKey(tag, keyword, "SQ", _read_level(first)))
        else:
            keys.append(RequestKey(tag, keyword, _response_vr(tag, element.VR)))
    return tuple(keys)


@cache
def _level_keys(keywords: tuple[str, ...]) -> tuple[RequestKey, ...]:
    """Keys asking for each of ``keywords`` with its dictionary VR, in tag order (a universal item)."""
    tags = {int(Tag(keyword)): keyword for keyword in keywords}
    return tuple(RequestKey(tag, keyword, dictionary_VR(tag)) for tag, keyword in sorted(tags.items()))


@dataclass
class Response:
    """One match's response: its elements in tag order and whether any text is not ASCII."""

    elements: list[Element]
    non_ascii: bool

    def dataset(self) -> Dataset:
        """The response as a pydicom ``Dataset`` (what pynetdicom encodes for the other transfer syntaxes)."""
        return _dataset(self.elements)


def _dataset(elements: list[Element]) -> Dataset:
    dataset = Dataset()
    for tag, vr, value in elements:
        if vr == "SQ":
            dataset.add(DataElement(tag, "SQ", Sequence([_dataset(item) for item in value])))
        else:
            dataset.add(DataElement(tag, vr, value, validation_mode=IGNORE))
    return dataset


class _Builder:
    """Builds one response; remembers whether any text needs a non-default character set."""

    def __init__(self, item: StoredItem):
        self.item = item
        self.non_ascii = False

    def stored(self, column: str) -> Any:
        """The item's value of ``column`` (what the catalogue's fallbacks and code sequences read)."""
        return getattr(self.item, column)

    def level(self, keys: tuple[RequestKey, ...], level: IdentifierLevel) -> list[Element]:
        elements: list[Element] = []
        for key in keys:
            keyword = key.keyword
            if key.vr == "SQ":
                if keyword in level.codes and level.codes[keyword].item(self.stored) is None:
                    continue  # Type 1C: no code stored, no sequence
                elements.append((key.tag, "SQ", self.sequence(key, level)))
                continue
            value = stored_value(self.item, level, keyword) if keyword else None
            entry = level.attributes.get(keyword)
            if value in (None, "") and entry is not None and entry.fallback is not None:
                value = entry.fallback.value(self.stored)
            elements.append(self.element(key.tag, key.vr, value, keyword))
        return elements

    def sequence(self, key: RequestKey, level: IdentifierLevel) -> list[list[Element]]:
        keyword = key.keyword
        if keyword == SPS_SEQUENCE and level is TOP_LEVEL:
            return [self.level(key.item or self.full_item(STEP_LEVEL), STEP_LEVEL)]
        if keyword in level.codes:
            code = level.codes[keyword].item(self.stored)
            stored = [code] if code else []
        else:
            stored = stored_value(self.item, level, keyword) or []
        return [self.json_item(entry, key.item) for entry in stored if isinstance(entry, dict)]

    def full_item(self, level: IdentifierLevel) -> tuple[RequestKey, ...]:
        """Keys asking for everything kept at ``level`` (universal sequence matching): every column and
        code sequence, and the item's own extras."""
        return _level_keys((*level.attributes, *level.codes, *level.stored_extras(self.item)))

    def everything(self, keys: tuple[RequestKey, ...]) -> tuple[RequestKey, ...]:
        """``keys`` widened to every attribute the item stores, at both levels (``includefield=all``)."""
        top = {key.tag: key for key in self.full_item(TOP_LEVEL)}
        step = {key.tag: key for key in self.full_item(STEP_LEVEL)}
        for key in keys:
            if key.keyword == SPS_SEQUENCE:
                step.update((nested.tag, nested) for nested in key.item)
            else:
                top[key.tag] = key
        sequence = int(Tag(SPS_SEQUENCE))
        top[sequence] = RequestKey(sequence, SPS_SEQUENCE, "SQ", tuple(step[tag] for tag in sorted(step)))
        return tuple(top[tag] for tag in sorted(top))

    def json_item(self, stored: dict[str, Any], request_keys: tuple[RequestKey, ...]) -> list[Element]:
        """One sequence item from stored ``{keyword: value}``: the requested keys, or all when none."""
        elements: list[Element] = []
        requested = {key.keyword: key for key in request_keys}
        for keyword in requested if request_keys else stored:
            tag = tag_for_keyword(keyword) if keyword else None
            if tag is None:
                continue
            vr = dictionary_VR(tag)
            value = stored.get(keyword)
            if vr == "SQ":
                nested = requested[keyword].item if keyword in requested else ()
                elements.append((tag, "SQ", [self.json_item(entry, nested) for entry in value or []
                                             if isinstance(entry, dict)]))
            else:
                elements.append(self.element(tag, vr, value, keyword))
        elements.sort(key=_tag_of)
        return elements

    def element(self, tag: int, vr: str, value: Any, keyword: str) -> Element:
        if value is None or value == "" or value == []:
            return tag, vr, None
        try:
            value = _encodable(vr, value)
        except (ValueError, TypeError, OverflowError) as exc:
            raise UnencodableValue(keyword or str(Tag(tag)), vr) from exc
        if vr in TEXT_VRS and not _is_ascii(value):
            self.non_ascii = True
        return tag, vr, value


def _tag_of(element: Element) -> int:
    return element[0]


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


def key_elements(item: StoredItem, key: RequestKey, level: IdentifierLevel) -> tuple[list[Element], bool]:
    """The elements that one key of a plan at ``level`` gives for ``item`` (none for a Type 1C code sequence
    with no code), and whether any of their text is not ASCII: a part of :func:`build_response`.

    Raises :class:`UnencodableValue` as :func:`build_response` does.
    """
    builder = _Builder(item)
    return builder.level((key,), level), builder.non_ascii


def build_response(item: StoredItem, plan: RequestPlan) -> Response:
    """The response for ``item`` (a ``WorklistItem`` or a row of its columns): every key of the plan, nothing
    else but Specific Character Set.

    Raises :class:`UnencodableValue` when a requested attribute's stored value cannot be encoded.
    """
    builder = _Builder(item)
    elements = builder.level(builder.everything(plan.keys) if plan.everything else plan.keys, TOP_LEVEL)
    if builder.non_ascii or plan.character_set:
        elements.append((CHARACTER_SET_TAG, "CS", UTF8 if builder.non_ascii else None))
        elements.sort(key=_tag_of)
    return Response(elements, builder.non_ascii)
