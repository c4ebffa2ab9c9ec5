"""Names a package re-exports from its modules, each module imported when one of its names is first used.

So a command pays only for the modules it uses, though it imports through the package (PEP 562): a package's
``__getattr__ = lazy_exports(__name__, {...})`` with the names under ``TYPE_CHECKING`` for the type checker.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, modules: Mapping[str, str]) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package``: each name of ``modules`` taken from its module on first use
    (and kept in the package), :class:`AttributeError` for any other."""

    def __getattr__(name: str) -> Any:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
