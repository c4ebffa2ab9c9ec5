"""JSON text for people: configurations printed by Pylantir (the example, a converted legacy file)."""

from __future__ import annotations

import json
from typing import Any


def readable_json(value: Any, depth: int = 0) -> str:
    """Indented JSON; lists of plain values and small objects of plain values stay on one line."""
    plain = isinstance(value, dict) and len(value) <= 3 and not any(isinstance(v, (dict, list)) for v in value.values())
    if isinstance(value, dict) and value and not plain:
        lines = [f"{json.dumps(key)}: {readable_json(item, depth + 1)}" for key, item in value.items()]
        return _block("{", lines, "}", depth)
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        return _block("[", [readable_json(item, depth + 1) for item in value], "]", depth)
    return json.dumps(value)


def _block(opening: str, lines: list[str], closing: str, depth: int) -> str:
    inner = "  " * (depth + 1)
    return opening + "\n" + ",\n".join(inner + line for line in lines) + "\n" + "  " * depth + closing
