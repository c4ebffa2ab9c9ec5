"""Plugin discovery, per-plugin status, and dispatch of hooks to the plugin that owns a source type.

Discovery is tolerant: each plugin is imported, registered and checked under its own error handling,
and ends in one :class:`PluginStatus`; nothing a plugin does stops discovery of the others. Use is
strict: :meth:`PluginRegistry.owner` raises :class:`PluginUnavailableError`, with a message that says
what to do, when a configured source needs a plugin that is missing, broken, disabled or in conflict.

Environment variables (read when a registry is built, and acting before any plugin is imported):

``PYLANTIR_LOAD_PLUGINS``
    comma-separated allow-list of plugin names; when set (even empty) only those are loaded.
``PYLANTIR_DISABLE_PLUGINS``
    comma-separated deny-list of plugin names.
``PYLANTIR_STRICT_PLUGINS``
    ``1`` makes commands exit non-zero when any plugin is not ``ok`` (see :func:`strict_mode`).

A plugin's name is its entry-point name, which is its distribution name (``pylantir-csv``), or for a
loose file in the plugin directory, the file's stem (``my_source`` for ``my_source.py``).

The names below are the public face; the modules behind them (``_environment``, ``_status``,
``_messages``, ``_discovery``, ``_dispatch``, ``_registry``) are private and may change at any release.
"""

from pylantir.plugins._discovery import ENTRY_POINT_GROUP, HOOK_NAMES
from pylantir.plugins._dispatch import PluginBugError
from pylantir.plugins._environment import ENV_DISABLE, ENV_LOAD, ENV_STRICT, PluginFilter, normalize_name, strict_mode
from pylantir.plugins._registry import PluginRegistry
from pylantir.plugins._status import PluginInfo, PluginStatus, PluginUnavailableError

__all__ = [
    "ENTRY_POINT_GROUP",
    "ENV_DISABLE",
    "ENV_LOAD",
    "ENV_STRICT",
    "HOOK_NAMES",
    "PluginBugError",
    "PluginFilter",
    "PluginInfo",
    "PluginRegistry",
    "PluginStatus",
    "PluginUnavailableError",
    "normalize_name",
    "strict_mode",
]
