"""DICOMweb payloads: the DICOM JSON model read (PS3.18 F.2), the Native DICOM Model XML written (PS3.19 A.1),
multipart/related bodies (PS3.18 8.6) and the choice of a response's media type from the Accept header."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from pydicom import Dataset
from pydicom.datadict import keyword_for_tag

DICOM_JSON = "application/dicom+json"
DICOM_XML = "application/dicom+xml"
MULTIPART_XML = 'multipart/related; type="application/dicom+xml"'
#: Media types read as the DICOM JSON model (plain JSON too, as most HTTP clients send it).
JSON_TYPES = frozenset({DICOM_JSON, "application/json"})
NATIVE_DICOM = "http://dicom.nema.org/PS3.19/models/NativeDICOM"
_PN_COMPONENTS = ("FamilyName", "GivenName", "MiddleName", "NamePrefix", "NameSuffix")
_PN_GROUPS = ("Alphabetic", "Ideographic", "Phonetic")
_TAG = re.compile(r"^[0-9A-Fa-f]{8}$")


class BadPayload(ValueError):
    """A request body that is not one dataset in the DICOM JSON model (answered 400)."""


class UnsupportedPayload(ValueError):
    """A request body in a media type this service does not read (answered 415)."""


def read_dataset(body: bytes, content_type: str | None) -> Dataset:
    """The one dataset of a request body in the DICOM JSON model (an object, or an array of one object)."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in JSON_TYPES:
        raise UnsupportedPayload(f"the body must be {DICOM_JSON} (not {media or 'without a Content-Type'})")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise BadPayload("the body is not JSON") from None
    if isinstance(data, list):
        if len(data) != 1:
            raise BadPayload(f"the body must hold one dataset, not {len(data)}")
        data = data[0]
    if not isinstance(data, dict):
        raise BadPayload("the body must be a dataset in the DICOM JSON model (an object of tags)")
    for key, element in data.items():
        if not _TAG.match(key) or not isinstance(element, dict) or "vr" not in element:
            raise BadPayload(f"{key!r} is not an attribute of the DICOM JSON model "
                             "(an 8-digit tag with an object holding its vr)")
    try:
        dataset = Dataset.from_json(data)
        for element in dataset.iterall():  # converts every value now, so that a bad one is found here
            _ = element.value
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types for a malformed model
        raise BadPayload(f"not the DICOM JSON model: {exc}") from None
    return dataset


def native_xml(dataset: Dataset) -> bytes:
    """``dataset`` as a Native DICOM Model document (PS3.19 A.1), in UTF-8."""
    root = Element("NativeDicomModel", xmlns=NATIVE_DICOM)
    _xml_attributes(root, dataset.to_json_dict())
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="utf-8", xml_declaration=False)


def _xml_attributes(parent: Element, model: dict[str, Any]) -> None:
    for tag in sorted(model):
        element = model[tag]
        vr = element["vr"]
        attributes = {"tag": tag.upper(), "vr": vr}
        keyword = keyword_for_tag(int(tag, 16))
        if keyword:
            attributes["keyword"] = keyword
        node = SubElement(parent, "DicomAttribute", attributes)
        if "InlineBinary" in element:
            SubElement(node, "InlineBinary").text = element["InlineBinary"]
        for number, value in enumerate(element.get("Value", []), start=1):
            if vr == "SQ":
                _xml_attributes(SubElement(node, "Item", number=str(number)), value)
            elif vr == "PN":
                _xml_person_name(SubElement(node, "PersonName", number=str(number)), value)
            elif value is not None:
                SubElement(node, "Value", number=str(number)).text = str(value)


def _xml_person_name(node: Element, value: dict[str, str]) -> None:
    for group in _PN_GROUPS:
        if group in value:
            group_node = SubElement(node, group)
            for component, text in zip(_PN_COMPONENTS, value[group].split("^"), strict=False):
                if text:
                    SubElement(group_node, component).text = text


def multipart_related(parts: Sequence[bytes], part_type: str) -> tuple[bytes, str]:
    """A multipart/related body of ``parts`` (each of ``part_type``) and its Content-Type."""
    boundary = uuid.uuid4().hex
    delimiter = f"--{boundary}\r\nContent-Type: {part_type}\r\n\r\n".encode()
    body = b"".join(delimiter + part + b"\r\n" for part in parts) + f"--{boundary}--\r\n".encode()
    return body, f'multipart/related; type="{part_type}"; boundary={boundary}'


def negotiate(accept: str | None, offered: Sequence[str]) -> str | None:
    """Of ``offered`` (in the server's preference order) the one the Accept header ranks highest, None when
    the header accepts none of them. No header accepts anything; ``application/json`` is taken for
    ``application/dicom+json``."""
    if not accept or not accept.strip():
        return offered[0]
    best: tuple[float, int] | None = None
    chosen = None
    for media_range in _split_accept(accept):
        name, parameters = _parse_media(media_range)
        quality = _quality(parameters.pop("q", "1"))
        if quality <= 0:
            continue
        for rank, media in enumerate(offered):
            if _matches(name, parameters, media) and (best is None or (quality, -rank) > best):
                best, chosen = (quality, -rank), media
    return chosen


def _split_accept(accept: str) -> list[str]:
    """The media ranges of an Accept header: commas inside quoted parameters do not split."""
    return [part.strip() for part in re.findall(r'(?:[^,"]|"[^"]*")+', accept) if part.strip()]


def _parse_media(text: str) -> tuple[str, dict[str, str]]:
    name, *parameters = text.split(";")
    parsed: dict[str, str] = {}
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        parsed[key.strip().lower()] = value.strip().strip('"').lower()
    return name.strip().lower(), parsed


def _quality(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return 0.0


def _matches(name: str, parameters: dict[str, str], offered: str) -> bool:
    offered_name, offered_parameters = _parse_media(offered)
    if name == "application/json":
        name = DICOM_JSON
    if name == "*/*":
        return True
    kind, _, subtype = name.partition("/")
    if subtype == "*":
        return offered_name.startswith(f"{kind}/")
    if name != offered_name:
        return False
    wanted = parameters.get("type")
    return wanted is None or wanted == offered_parameters.get("type")
