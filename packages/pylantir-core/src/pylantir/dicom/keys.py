"""The keys of a C-FIND identifier, checked before any matching or SQL (see docs/conformance.md 2.2).

- Each key must carry its data dictionary VR. On an explicit-VR context a peer can send, say, Patient ID
  as DA; matching it by the VR it came with would compare a patient ID as a date range. A zero-length key
  with another VR is only a return key: it is taken with its dictionary VR. A key with a value is refused.
- Each value must fit its VR's maximum length (PS3.5 Table 6.2-1; for DA, TM and DT the lengths of a
  range query, without the separators of the deprecated ``YYYY.MM.DD`` / ``HH:MM:SS`` forms), and a key
  holds at most :data:`MAX_VALUES` values. UC, UR and UT are unlimited by the standard; no such key is
  matched.

Refusals raise :class:`~pylantir.dicom.matching.InvalidIdentifier` naming the element, never its value.
"""

from __future__ import annotations

from typing import Any

from pydicom import Dataset
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataelem import DataElement
from pydicom.multival import MultiValue
from pydicom.valuerep import MAX_VALUE_LEN, validate_pn
from pynetdicom.events import Event

from pylantir.dicom.decoding import UndecodableDataset, decode_received
from pylantir.dicom.matching import InvalidIdentifier

#: The most values one key may hold (List of UID matching, or several values matching any of them).
MAX_VALUES = 1000
# Range queries (PS3.5 Table 6.2-1): DA 18, TM 28, DT 54 bytes; AS is fixed at 4.
_QUERY_LENGTHS = {"DA": 18, "TM": 28, "DT": 54, "AS": 4}
_DEPRECATED_SEPARATORS = {"DA": ".", "TM": ":"}


def read_identifier(event: Event) -> Dataset:
    """The request's identifier, decoded whole and with every key checked (raises InvalidIdentifier)."""
    try:
        identifier = decode_received(event, "Identifier")
    except UndecodableDataset as exc:
        keyword = keyword_for_tag(exc.tag) if exc.tag is not None else None
        raise InvalidIdentifier(f"cannot be decoded: {exc}", keyword or None, exc.tag) from exc
    return checked_keys(identifier)


def checked_keys(identifier: Dataset) -> Dataset:
    """``identifier`` with every key checked, and zero-length keys of another VR given their dictionary VR.

    Checks in place (the identifier is the one just decoded for this request) and returns it.
    """
    for element in list(identifier):
        expected = _dictionary_vrs(element.tag)
        if expected and element.VR not in expected:
            if not element.is_empty:
                raise InvalidIdentifier(f"sent with VR {element.VR}, its VR is {' or '.join(expected)}",
                                        element.keyword or None, int(element.tag))
            identifier[element.tag] = DataElement(element.tag, expected[0], [] if expected[0] == "SQ" else None)
        elif element.VR == "SQ":
            for item in element.value:
                checked_keys(item)
        else:
            _check_values(element)
    return identifier


def _check_values(element: DataElement) -> None:
    values = _values(element.value)
    if len(values) > MAX_VALUES:
        raise InvalidIdentifier(f"more than {MAX_VALUES} values", element.keyword or None, int(element.tag))
    for value in values:
        problem = _length_problem(element.VR, value)
        if problem:
            raise InvalidIdentifier(problem, element.keyword or None, int(element.tag))


def _dictionary_vrs(tag: int) -> list[str]:
    """The VRs the data dictionary allows for ``tag`` (``US or SS`` -> both); none for private tags."""
    try:
        return dictionary_VR(tag).split(" or ")
    except KeyError:
        return []


def _values(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, (MultiValue, list, tuple)) else [value]


def _length_problem(vr: str, value: Any) -> str | None:
    """Why ``value`` is too long for ``vr``, or None when it fits."""
    if vr == "PN":
        valid, _message = validate_pn(vr, str(value))
        return None if valid else "longer than PN allows (64 characters per component group, 3 groups)"
    limit = _QUERY_LENGTHS.get(vr) or MAX_VALUE_LEN.get(vr)
    if limit is None or not isinstance(value, str):  # IS and DS arrive as numbers: never matched
        return None
    text = value.replace(_DEPRECATED_SEPARATORS[vr], "") if vr in _DEPRECATED_SEPARATORS else value
    return f"longer than {vr} allows ({limit})" if len(text) > limit else None
