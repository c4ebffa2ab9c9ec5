"""Search Transaction query parameters (PS3.18 8.3.4, 14.4) -> the C-FIND identifier they ask the same thing as.

- ``{attribute}={value}``: a matching key. The attribute is a keyword or an 8-digit tag, or a dotted path of
  them into sequences (``ScheduledProcedureStepSequence.Modality``, ``00400100.00080060``). The value is taken
  as C-FIND takes a key's value (wild cards, ``A-B`` ranges, ``\\`` between values); a UI attribute's value may
  be a comma-separated UID list. An empty value is universal matching (a return key).
- ``includefield={attribute},...`` (repeatable): return keys; ``includefield=all``: every attribute stored.
- ``fuzzymatching``, ``emptyvaluematching``, ``multiplevaluematching``: ``true`` or ``false``; none of the three
  is supported, so ``true`` is answered with the standard's Warning and literal matching.
- ``limit`` / ``offset``: paging over the answer, in C-FIND's order (start date-time, then id).

The usual return keys of a modality's query (:data:`pylantir.dicom.client.TOP_LEVEL_KEYS` and
:data:`~pylantir.dicom.client.SPS_KEYS`) are always returned. Every key is then checked as C-FIND checks it
(:func:`pylantir.dicom.keys.checked_keys`). A problem raises :class:`BadSearch` naming the parameter, never its
value (it may be patient data).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydicom import Dataset
from pydicom.config import IGNORE
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.sequence import Sequence
from pydicom.tag import Tag

from pylantir.dicom.attributes import SPS_SEQUENCE, STEP_LEVEL
from pylantir.dicom.client import SPS_KEYS, TOP_LEVEL_KEYS
from pylantir.dicom.keys import checked_keys
from pylantir.dicom.matching import InvalidIdentifier

INCLUDEFIELD = "includefield"
ALL = "all"
LIMIT, OFFSET = "limit", "offset"
#: The boolean search parameters: none is supported; ``true`` gets the standard's Warning (PS3.18 8.3.4.2, .5, .6).
UNSUPPORTED_FLAGS = {
    "fuzzymatching": "The fuzzymatching parameter is not supported. Only literal matching has been performed.",
    "emptyvaluematching": "The emptyvaluematching parameter is not supported. "
                          "Empty Value Matching has not been performed.",
    "multiplevaluematching": "The multiplevaluematching parameter is not supported. "
                             "Multiple Value Matching has not been performed.",
}
_TAG = re.compile(r"^[0-9A-Fa-f]{8}$")
_INTEGER_VRS = frozenset({"US", "SS", "UL", "SL", "UV", "SV"})
_FLOAT_VRS = frozenset({"FL", "FD"})


class BadSearch(ValueError):
    """A query parameter that cannot be used (answered 400); the message names the parameter, not its value."""


@dataclass
class Search:
    """One Search Transaction: the C-FIND identifier, paging, whether ``includefield=all``, the warnings
    (Warning header texts, without the ``299 <service>:`` prefix)."""

    identifier: Dataset
    everything: bool = False
    limit: int | None = None
    offset: int = 0
    warnings: list[str] = field(default_factory=list)


def parse_search(parameters: Iterable[tuple[str, str]]) -> Search:
    """The :class:`Search` asked by ``parameters`` (name, value pairs in request order; names may repeat)."""
    search = Search(Dataset())
    fields: list[str] = []
    for name, value in parameters:
        if name == INCLUDEFIELD:
            fields.extend(part.strip() for part in value.split(","))
        elif name in UNSUPPORTED_FLAGS:
            if _flag(name, value):
                search.warnings.append(UNSUPPORTED_FLAGS[name])
        elif name == LIMIT:
            search.limit = _count(name, value, minimum=1)
        elif name == OFFSET:
            search.offset = _count(name, value, minimum=0)
        else:
            _add_key(search.identifier, name, value)
    if ALL in fields:
        if fields != [ALL]:
            raise BadSearch("includefield: 'all' cannot be combined with other includefield values")
        search.everything = True
    for path in fields if not search.everything else []:
        if not path:
            raise BadSearch("includefield: an empty attribute name")
        _include(search.identifier, attribute_path(path, INCLUDEFIELD))
    _add_usual_keys(search.identifier)
    try:
        checked_keys(search.identifier)
    except InvalidIdentifier as exc:
        raise BadSearch(f"{exc.keyword or 'a key'}: {exc}") from exc
    return search


def _flag(name: str, value: str) -> bool:
    if value not in ("true", "false"):
        raise BadSearch(f"{name}: must be true or false")
    return value == "true"


def _count(name: str, value: str, minimum: int) -> int:
    if not value.isdigit() or int(value) < minimum:
        raise BadSearch(f"{name}: must be a whole number of at least {minimum}")
    return int(value)


def attribute_path(path: str, parameter: str) -> list[int]:
    """The tags of a dotted attribute path (keywords or 8-digit tags); every step but the last must be a
    sequence. Raises :class:`BadSearch` naming ``parameter``."""
    tags: list[int] = []
    for part in path.split("."):
        tag = int(part, 16) if _TAG.match(part) else tag_for_keyword(part)
        if tag is None:
            raise BadSearch(f"{parameter}: {part!r} is neither a DICOM keyword nor an 8-digit tag")
        try:
            dictionary_VR(tag)
        except KeyError:
            raise BadSearch(f"{parameter}: {part} is not in the DICOM data dictionary "
                            "(private attributes are not supported)") from None
        tags.append(tag)
    for tag in tags[:-1]:
        if dictionary_VR(tag) != "SQ":
            raise BadSearch(f"{parameter}: {keyword_for_tag(tag)} is not a sequence, nothing is inside it")
    return tags


def _item_at(identifier: Dataset, tags: list[int]) -> Dataset:
    """The (single) item reached through the sequences ``tags``, made when absent."""
    dataset = identifier
    for tag in tags:
        if tag not in dataset:
            dataset.add(DataElement(tag, "SQ", Sequence([Dataset()])))
        sequence = dataset[tag].value
        if not len(sequence):
            sequence.append(Dataset())
        dataset = sequence[0]
    return dataset


def _add_key(identifier: Dataset, name: str, value: str) -> None:
    tags = attribute_path(name, name)
    dataset = _item_at(identifier, tags[:-1])
    tag = tags[-1]
    vr = dictionary_VR(tag).split(" or ")[0]
    if tag in dataset:
        raise BadSearch(f"{name}: given twice (a UID list is one comma-separated value)")
    if vr == "SQ":
        if value:
            raise BadSearch(f"{name}: a sequence is matched through its attributes ({name}.Attribute=value)")
        dataset.add(DataElement(tag, "SQ", Sequence()))
        return
    dataset.add(DataElement(tag, vr, _typed(name, vr, value), validation_mode=IGNORE))  # checked below, as C-FIND


def _typed(name: str, vr: str, value: str) -> object:
    """The value as C-FIND would carry it for ``vr`` (None for universal matching)."""
    if value == "":
        return None
    if vr == "UI":
        uids = [uid.strip() for uid in value.split(",")]
        return uids if len(uids) > 1 else uids[0]
    try:
        if vr in _INTEGER_VRS:
            return [int(part) for part in value.split("\\")]
        if vr in _FLOAT_VRS:
            return [float(part) for part in value.split("\\")]
    except ValueError:
        raise BadSearch(f"{name}: must be a number (VR {vr})") from None
    return value


def _include(identifier: Dataset, tags: list[int]) -> None:
    """A return key at ``tags`` (already a key: nothing to add). A whole Scheduled Procedure Step Sequence
    asks for every step attribute, also when some are matching keys."""
    dataset = _item_at(identifier, tags[:-1])
    tag = tags[-1]
    vr = dictionary_VR(tag).split(" or ")[0]
    if tag not in dataset:
        dataset.add(DataElement(tag, vr, Sequence() if vr == "SQ" else None))
    elif vr == "SQ" and keyword_for_tag(tag) == SPS_SEQUENCE and len(dataset[tag].value):
        _add_universal(dataset[tag].value[0], [*STEP_LEVEL.attributes, *STEP_LEVEL.codes])


def _add_usual_keys(identifier: Dataset) -> None:
    _add_universal(identifier, TOP_LEVEL_KEYS)
    _add_universal(_item_at(identifier, [Tag(SPS_SEQUENCE)]), SPS_KEYS)


def _add_universal(dataset: Dataset, keywords: Iterable[str]) -> None:
    for keyword in keywords:
        if keyword not in dataset:
            tag = Tag(keyword)
            vr = dictionary_VR(tag)
            dataset.add(DataElement(tag, vr, Sequence() if vr == "SQ" else None))
