"""The configuration file: typed models, loading with located errors, and the legacy format.

One JSON file (``--config PATH`` or ``PYLANTIR_CONFIG``). Unknown keys are errors, so typos are never
silently ignored. Secrets are never in the file: sources name the environment variables that hold them.

The names below are imported on first use: ``pylantir config example`` reads :mod:`pylantir.config.example`
without the models (pydantic) or the loader.
"""

from typing import TYPE_CHECKING

from pylantir.lazy import lazy_exports

if TYPE_CHECKING:
    from pylantir.config.loader import ConfigError, ConfigReading, load_config, read_config
    from pylantir.config.models import (
        DEFAULT_WORKLIST_STATUSES,
        DailyWindow,
        DataSourceSettings,
        Housekeeping,
        HttpSettings,
        HttpTlsSettings,
        OperationInterval,
        PylantirConfig,
        ServerSettings,
        TlsSettings,
        Visibility,
        WriteBack,
    )

__all__ = [
    "DEFAULT_WORKLIST_STATUSES",
    "ConfigError",
    "ConfigReading",
    "DailyWindow",
    "DataSourceSettings",
    "Housekeeping",
    "HttpSettings",
    "HttpTlsSettings",
    "OperationInterval",
    "PylantirConfig",
    "ServerSettings",
    "TlsSettings",
    "Visibility",
    "WriteBack",
    "load_config",
    "read_config",
]

#: The loader's names; every other one is a model's.
_LOADER = frozenset({"ConfigError", "ConfigReading", "load_config", "read_config"})
__getattr__ = lazy_exports(
    __name__, {name: "pylantir.config.loader" if name in _LOADER else "pylantir.config.models" for name in __all__}
)
