"""Pylantir: a DICOM Modality Worklist and MPPS server fed by pluggable scheduling sources.

The names below are the public API a source plugin codes against; see :mod:`pylantir.hookspecs`
for the hooks and the compatibility policy.
"""

from typing import TYPE_CHECKING

from pylantir.contract import (
    ConfigProblem,
    FetchState,
    ModelSchema,
    Record,
    Rejected,
    SourceError,
    SourceType,
    StepChange,
    TransientSourceError,
    WriteBackResult,
)
from pylantir.hookspecs import hookimpl

if TYPE_CHECKING:
    __version__: str

__all__ = [
    "ConfigProblem",
    "FetchState",
    "ModelSchema",
    "Record",
    "Rejected",
    "SourceError",
    "SourceType",
    "StepChange",
    "TransientSourceError",
    "WriteBackResult",
    "__version__",
    "hookimpl",
]


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed distribution when first asked for (importlib.metadata is
    not imported by commands that never need it)."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("pylantir-core")
    except PackageNotFoundError:  # running from a source tree that is not installed
        found = "0.0.0"
    globals()["__version__"] = found
    return found
