"""Pylantir: a DICOM Modality Worklist and MPPS server fed by pluggable scheduling sources.

The names below are the public API a source plugin codes against; see :mod:`pylantir.hookspecs`
for the hooks and the compatibility policy.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pylantir-core")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

from pylantir.contract import (  # noqa: E402 - __version__ first: plugins.py reads it
    ConfigProblem,
    FetchState,
    Record,
    Rejected,
    SourceError,
    SourceType,
    StepChange,
    TransientSourceError,
    WriteBackResult,
)
from pylantir.hookspecs import hookimpl  # noqa: E402

__all__ = [
    "ConfigProblem",
    "FetchState",
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
