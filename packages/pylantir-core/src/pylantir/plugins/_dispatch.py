"""Calling a hook on exactly one plugin, and what an unexpected exception from a plugin becomes.

No hook is broadcast: the registry knows which plugin owns a source type and calls the hook through
pluggy's ``subset_hook_caller`` with every other plugin removed. Whatever a plugin raises, from the hook
call or later while its iterable is consumed, is either a :class:`pylantir.SourceError` (passed through)
or wrapped, here and nowhere else, in a :class:`PluginBugError` naming the plugin, the hook and the
plugin's own line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pluggy

from pylantir.contract import SourceError
from pylantir.plugins._messages import describe_exception
from pylantir.plugins._status import PluginInfo


class PluginBugError(Exception):
    """A plugin broke the hook contract (raised an unexpected exception, returned the wrong type)."""

    def __init__(self, plugin: PluginInfo, hook: str, message: str):
        super().__init__(f"plugin {plugin.label}, hook {hook}: {message}")
        self.plugin = plugin
        self.hook = hook

    @classmethod
    def from_exception(cls, plugin: PluginInfo, hook: str, exc: BaseException) -> PluginBugError:
        """The bug ``exc`` raised by ``plugin`` in ``hook``: its type, message and the plugin's last line."""
        return cls(plugin, hook, describe_exception(exc, plugin.code))


def only(pm: pluggy.PluginManager, module: object, hook_name: str) -> pluggy.HookCaller:
    """The caller of ``hook_name`` that reaches ``module`` and no other plugin."""
    others = [plugin for plugin in pm.get_plugins() if plugin is not module]
    return pm.subset_hook_caller(hook_name, remove_plugins=others)


@contextmanager
def plugin_code(owner: PluginInfo, hook_name: str) -> Iterator[None]:
    """Run the block as ``owner``'s code for ``hook_name``: an exception other than SourceError is its bug."""
    try:
        yield
    except SourceError:
        raise
    except Exception as exc:
        raise PluginBugError.from_exception(owner, hook_name, exc) from exc


def call(pm: pluggy.PluginManager, owner: PluginInfo, hook_name: str, arguments: Mapping[str, Any]) -> list[Any]:
    """Call ``hook_name`` on ``owner`` only: its results (empty when it does not implement the hook)."""
    with plugin_code(owner, hook_name):
        results: list[Any] = only(pm, owner.module, hook_name)(**arguments)
    return results


def guarded(owner: PluginInfo, hook_name: str, items: Iterable[Any]) -> Iterator[Any]:
    """``items`` (an iterable a hook returned), with an unexpected exception while iterating wrapped too."""
    with plugin_code(owner, hook_name):
        yield from items
