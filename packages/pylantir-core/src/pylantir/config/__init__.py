"""The configuration file: typed models, loading with located errors, and the legacy format.

One JSON file (``--config PATH`` or ``PYLANTIR_CONFIG``). Unknown keys are errors, so typos are never
silently ignored. Secrets are never in the file: sources name the environment variables that hold them.
"""

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
