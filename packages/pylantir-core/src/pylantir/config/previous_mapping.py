"""The previous Pylantir's rich ``field_mapping`` entries, in the current mapping syntax.

The previous Pylantir's Calpendo source (and the specification's examples) wrote a worklist field as
``{"source_field": "<dotted path>", "_extract": {"pattern": "<regex>", "group": N}}``: the value at the
path, then ``re.match(pattern)`` (anchored at the start) and group ``N`` (default 0, the whole match).
The current syntax takes the *first capture group* of ``re.search``, so the pattern is rewritten:
anchored with ``^`` when it is not already, and with its group ``N`` as its only capture group (other
groups become non-capturing; for group 0 the whole pattern is wrapped in one). A pattern whose groups
are referred to by a back-reference cannot be rewritten so; :class:`PreviousMappingError` says why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


class PreviousMappingError(ValueError):
    """A previous-format mapping entry that has no current-format equivalent (the message says why)."""


def is_previous_rich_entry(spec: Any) -> bool:
    """Whether ``spec`` is a previous-format rich entry (``source_field`` and/or ``_extract``)."""
    return isinstance(spec, Mapping) and ("source_field" in spec or "_extract" in spec)


def convert_rich_entry(spec: Mapping[str, Any]) -> dict[str, Any]:
    """``{"source_field": p, "_extract": {"pattern": r, "group": n}}`` -> ``{"from": p, "regex": r'}``."""
    path = spec.get("source_field")
    if not isinstance(path, str) or not path:
        raise PreviousMappingError("'source_field' must name a source field")
    unknown = sorted(set(spec) - {"source_field", "_extract"})
    if unknown:
        raise PreviousMappingError(f"unknown key(s) {', '.join(unknown)} beside 'source_field' and '_extract'")
    extract = spec.get("_extract")
    if extract is None:
        return {"from": path}
    if not isinstance(extract, Mapping) or not isinstance(extract.get("pattern"), str):
        raise PreviousMappingError("'_extract' must be an object with a 'pattern'")
    group = extract.get("group", 0)
    if isinstance(group, bool) or not isinstance(group, int) or group < 0:
        raise PreviousMappingError("'_extract.group' must be a group number (0 for the whole match)")
    return {"from": path, "regex": single_group_pattern(extract["pattern"], group)}


def single_group_pattern(pattern: str, group: int) -> str:
    """``pattern`` anchored at the start, with group ``group`` as its one capture group (``re.match``
    semantics, group ``group``, expressed as the first group of ``re.search``)."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise PreviousMappingError(f"'_extract.pattern' is not a valid regular expression: {exc}") from None
    if group > compiled.groups:
        raise PreviousMappingError(f"'_extract.group' {group}: the pattern has {compiled.groups} group(s)")
    if compiled.groups == 1 and group == 1:
        body = pattern
    else:
        if re.search(r"\\[1-9]|\(\?P=", pattern):
            raise PreviousMappingError("'_extract.pattern' refers back to its own groups; rewrite it with one group")
        body = _only_group(pattern, group)
        if group == 0:
            body = f"({body})"
    return body if body.startswith("^") else f"^(?:{body})"


def _only_group(pattern: str, keep: int) -> str:
    """``pattern`` with every capture group but number ``keep`` made non-capturing."""
    out: list[str] = []
    number = 0
    index = 0
    in_class = False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            out.append(pattern[index:index + 2])
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            # a ']' right after '[' or '[^' is a literal member of the class
            closing = index + 1 + (pattern[index + 1:index + 2] == "^")
            if pattern[closing:closing + 1] == "]":
                out.append(pattern[index:closing + 1])
                index = closing + 1
                continue
        elif char == "(":
            named = re.match(r"\(\?P<\w+>", pattern[index:])
            if named or not pattern.startswith("(?", index):
                number += 1
                if number != keep:
                    out.append("(?:")
                    index += len(named.group(0)) if named else 1
                    continue
        out.append(char)
        index += 1
    return "".join(out)
