"""Turn a pydantic model's validation errors into :class:`pylantir.ConfigProblem` items.

Plugins describe their ``config`` object as a pydantic model (with ``extra="forbid"`` so typos are
reported) and return ``problems_from_model(TheirConfig, config)`` from ``validate_config``. Checks of
values the core and plugins both take (a time zone name) live here once.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ValidationError

from pylantir.contract import ConfigProblem


def error_path(location: tuple[int | str, ...]) -> str:
    """``("filter", "values", 0)`` -> ``"filter.values.0"``."""
    return ".".join(str(part) for part in location)


def known_time_zone(name: str) -> str:
    """``name`` when it is an IANA time zone; else :class:`ValueError` saying so (for pydantic validators)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone '{name}'; use an IANA name such as 'America/Edmonton' or 'UTC'") from None
    return name


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
        known = sorted(_keys_at(model, error["loc"][:-1]))
        guess = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
        return f"unknown key; did you mean '{guess[0]}'?" if guess else "unknown key"
    if error["type"] == "missing":
        return "required"
    if error["type"] == "value_error":
        return str(error["ctx"]["error"])
    return str(error["msg"])


def _keys_at(model: type[BaseModel], location: tuple[int | str, ...]) -> set[str]:
    """The keys the nested model at ``location`` accepts (empty when it is not a model)."""
    current: Any = model
    for part in location:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if _is_model(current) else None
        if field is None:
            return set()
        current = _nested_model(field.annotation)
    return set(current.model_fields) if _is_model(current) else set()


def _nested_model(annotation: Any) -> Any:
    """The pydantic model inside ``X``, ``X | None`` or ``list[X]``, else ``None``."""
    if _is_model(annotation):
        return annotation
    for argument in get_args(annotation):
        if (found := _nested_model(argument)) is not None:
            return found
    return None


def _is_model(candidate: Any) -> bool:
    return isinstance(candidate, type) and issubclass(candidate, BaseModel)
