"""The DICOM data dictionary by keyword (tag, VR, VM, name): pydicom's own table, without importing pydicom.

``import pydicom`` costs about 0.1-0.2 s of CPU (its package imports its dataset, pixel handlers and
their dependencies), while the commands that only need an attribute's tag, VR or VM (``config check``,
``worklist fields``, a sync's mapping and quality checks) need just the table pydicom generates from the
standard: ``pydicom/_dicom_dict.py``, one literal dictionary. That file is executed here on first use
(about 10 ms, from its cached bytecode), or taken from pydicom when pydicom is imported already. Only the
official dictionary is read (like pydicom's lookups by keyword: no repeating groups, no private tags); a
test checks every keyword against :mod:`pydicom.datadict`.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path

#: One entry of pydicom's table: (VR, VM, name, retired, keyword).
Entry = tuple[str, str, str, str, str]


@cache
def _by_keyword() -> dict[str, tuple[int, Entry]]:
    """Keyword -> (tag, entry), for every official attribute that has a keyword."""
    return {entry[4]: (tag, entry) for tag, entry in _table().items() if entry[4]}


def _table() -> dict[int, Entry]:
    imported = sys.modules.get("pydicom._dicom_dict")
    if imported is None:
        package = importlib.util.find_spec("pydicom")  # finds the package without importing it
        assert package is not None and package.submodule_search_locations, "pydicom is a dependency of Pylantir"
        path = Path(next(iter(package.submodule_search_locations))) / "_dicom_dict.py"
        spec = importlib.util.spec_from_file_location("pylantir._pydicom_dictionary", path)
        assert spec is not None and spec.loader is not None, f"cannot read {path}"
        imported = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(imported)
    table: dict[int, Entry] = imported.DicomDictionary
    return table


def is_keyword(keyword: str) -> bool:
    """Whether ``keyword`` names an attribute of the DICOM data dictionary."""
    return keyword in _by_keyword()


def keyword_tag(keyword: str) -> int | None:
    """The tag of the attribute ``keyword`` (``None`` when the dictionary has no such keyword)."""
    found = _by_keyword().get(keyword)
    return None if found is None else found[0]


def keyword_vr(keyword: str) -> str:
    """The VR of the attribute ``keyword`` (``"US or SS"`` when it depends on another attribute); a
    ``KeyError`` for a keyword the dictionary does not have."""
    return _by_keyword()[keyword][1][0]


def keyword_vm(keyword: str) -> str:
    """The value multiplicity of the attribute ``keyword`` (``"1"``, ``"1-n"``...); ``KeyError`` if unknown."""
    return _by_keyword()[keyword][1][1]


def keyword_name(keyword: str) -> str:
    """The attribute's name in the standard (``Patient's Name``); ``KeyError`` if unknown."""
    return _by_keyword()[keyword][1][2]
