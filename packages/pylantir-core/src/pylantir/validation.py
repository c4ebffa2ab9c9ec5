"""Turn a pydantic model's validation errors into :class:`pylantir.ConfigProblem` items.

Plugins describe their ``config`` object as a pydantic model (with ``extra="forbid"`` so typos are
reported) and return ``problems_from_model(TheirConfig, config)`` from ``validate_config``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from pylantir.contract import ConfigProblem


def error_path(location: tuple[int | str, ...]) -> str:
    """``("filter", "values", 0)`` -> ``"filter.values.0"``."""
    return ".".join(str(part) for part in location)


def problems_from_model(model: type[BaseModel], config: Mapping[str, Any]) -> list[ConfigProblem]:
    """Validate ``config`` against ``model`` and return every problem with its dotted path."""
    try:
        model.model_validate(dict(config))
    except ValidationError as exc:
        return [
            ConfigProblem(error_path(error["loc"]), _message(model, error)) for error in exc.errors()
        ]
    return []


def _message(model: type[BaseModel], error: Any) -> str:
    if error["type"] == "extra_forbidden":
        known = sorted(model.model_fields) if len(error["loc"]) == 1 else []
        guess = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
        return f"unknown key; did you mean '{guess[0]}'?" if guess else "unknown key"
    if error["type"] == "missing":
        return "required"
    return str(error["msg"])
