"""The registry: a fresh pluggy manager plus the status of every plugin offered to it, and use of it."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from pylantir import hookspecs
from pylantir.contract import ConfigProblem, FetchState, SourceType, StepChange, WriteBackResult
from pylantir.plugins import _discovery, _dispatch
from pylantir.plugins._dispatch import PluginBugError
from pylantir.plugins._environment import PluginFilter
from pylantir.plugins._messages import unavailable_message
from pylantir.plugins._status import PluginInfo, PluginStatus, PluginUnavailableError


class PluginRegistry:
    """A fresh pluggy manager plus the status of every plugin offered to it.

    Build one with :meth:`discover` (entry points and plugin directory) or empty, then add modules
    with :meth:`register_module` (what :mod:`pylantir.testing` does). Nothing is global: each
    registry is independent.
    """

    def __init__(self, plugin_filter: PluginFilter | None = None):
        self._pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self._filter = plugin_filter or PluginFilter()
        self.plugins: list[PluginInfo] = []

    @classmethod
    def discover(
        cls,
        plugins_dir: str | os.PathLike[str] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        entry_points: bool = True,
    ) -> PluginRegistry:
        """Load installed entry points of group ``pylantir`` and every ``*.py`` in ``plugins_dir``."""
        registry = cls(PluginFilter.from_environ(os.environ if environ is None else environ))
        if entry_points:
            registry.load_entry_points()
        if plugins_dir is not None:
            registry.load_directory(Path(plugins_dir))
        return registry

    # -- discovery -----------------------------------------------------------------------------

    def load_entry_points(self, only: str | None = None) -> None:
        """Load each installed ``pylantir`` entry point under its own error handling.

        :param only: load just the entry point with this name (used by :mod:`pylantir.testing`).
        """
        for info, load in _discovery.entry_points(only):
            self._admit(info, load)
        _discovery.mark_conflicts(self.plugins)

    def load_directory(self, directory: Path) -> None:
        """Load every ``*.py`` file of ``directory`` (not recursive, ``_``-prefixed files skipped)."""
        if not directory.is_dir():
            self.plugins.append(_discovery.missing_directory(directory))
            return
        for info, load in _discovery.directory_files(directory):
            self._admit(info, load)
        _discovery.mark_conflicts(self.plugins)

    def register_module(
        self, module: ModuleType, name: str | None = None, *, distribution: str | None = None
    ) -> PluginInfo:
        """Register an already imported plugin module, with the same checks as discovery."""
        info = PluginInfo(
            name=name or module.__name__,
            origin=f"module {module.__name__}",
            distribution=distribution,
            code=_discovery.code_locations(module.__name__),
        )
        self._admit(info, lambda: module)
        _discovery.mark_conflicts(self.plugins)
        return info

    def unregister(self, info: PluginInfo) -> None:
        """Remove a plugin again (its hooks stop being called)."""
        if info.module is not None and self._pm.is_registered(info.module):
            self._pm.unregister(info.module)
        self.plugins.remove(info)
        _discovery.mark_conflicts(self.plugins)

    def _admit(self, info: PluginInfo, load: _discovery.Loader) -> None:
        self.plugins.append(info)
        _discovery.admit(self._pm, self._filter, info, load)

    # -- use -----------------------------------------------------------------------------------

    def source_types(self) -> dict[str, SourceType]:
        """Usable source types (from ``ok`` plugins), by name."""
        return {
            declared.name: declared
            for info in self.plugins
            if info.status is PluginStatus.OK
            for declared in info.source_types
        }

    def problems(self) -> list[PluginInfo]:
        """Plugins that are not ``ok`` or ``disabled`` (what strict mode fails on)."""
        return [p for p in self.plugins if p.status not in (PluginStatus.OK, PluginStatus.DISABLED)]

    def owner(self, source_type: str, source_name: str | None = None) -> PluginInfo:
        """The plugin that provides ``source_type``, or a :class:`PluginUnavailableError` saying why not."""
        providers = _discovery.providers(self.plugins).get(source_type, [])
        if len(providers) == 1 and providers[0].status is PluginStatus.OK:
            return providers[0]
        message = unavailable_message(source_type, source_name, providers, self.plugins, sorted(self.source_types()))
        raise PluginUnavailableError(message)

    def call_hook(self, owner: PluginInfo, hook_name: str, **arguments: Any) -> list[Any]:
        """Call any hook of :mod:`pylantir.hookspecs` on ``owner`` only (see :meth:`owner`).

        :return: the plugin's results: one item, or none when it does not implement the hook.
        A :class:`pylantir.SourceError` passes through; any other exception becomes a
        :class:`PluginBugError` naming the plugin, the hook and the plugin's own line.
        """
        return _dispatch.call(self._pm, owner, hook_name, arguments)

    def implements(self, owner: PluginInfo, hook_name: str) -> bool:
        """Whether ``owner`` implements ``hook_name`` (an optional hook such as ``write_back``)."""
        return bool(_dispatch.only(self._pm, owner.module, hook_name).get_hookimpls())

    def _problems(self, owner: PluginInfo, hook_name: str, **arguments: Any) -> list[ConfigProblem]:
        """Call a hook that returns :class:`ConfigProblem` items; an unimplemented hook means none."""
        problems: list[ConfigProblem] = []
        for result in self.call_hook(owner, hook_name, **arguments):
            for problem in result or ():
                if not isinstance(problem, ConfigProblem):
                    raise PluginBugError(owner, hook_name, f"returned {problem!r}, expected ConfigProblem")
                problems.append(problem)
        return problems

    def validate_config(
        self, source_type: str, config: Mapping[str, Any], config_dir: Path | None = None
    ) -> list[ConfigProblem]:
        """Call ``validate_config`` on the owning plugin only; an unimplemented hook means valid.

        ``config_dir``: where relative paths of ``config`` start (default: the working directory).
        """
        return self._problems(self.owner(source_type), "validate_config", source_type=source_type, config=config,
                              config_dir=config_dir or Path.cwd())

    def validate_write_back(
        self, source_type: str, config: Mapping[str, Any], settings: Mapping[str, Any]
    ) -> list[ConfigProblem]:
        """Call ``validate_write_back`` on the owning plugin only; an unimplemented hook means valid."""
        return self._problems(self.owner(source_type), "validate_write_back", source_type=source_type,
                              config=config, settings=settings)

    def check_write_back(
        self, source_type: str, source_name: str, config: Mapping[str, Any], settings: Mapping[str, Any]
    ) -> list[ConfigProblem]:
        """Call ``check_write_back`` (I/O) on the owning plugin only; an unimplemented hook finds nothing."""
        return self._problems(self.owner(source_type, source_name), "check_write_back", source_type=source_type,
                              source_name=source_name, config=config, settings=settings)

    def write_back(
        self,
        source_type: str,
        source_name: str,
        config: Mapping[str, Any],
        settings: Mapping[str, Any],
        changes: Sequence[StepChange],
    ) -> dict[int, WriteBackResult]:
        """Call ``write_back`` on the owning plugin only: its results by change id.

        Raises :class:`PluginBugError` when the plugin does not implement it, returns something else
        than results of the changes it was given, or raises an unexpected exception.
        """
        owner = self.owner(source_type, source_name)
        returned = self.call_hook(owner, "write_back", source_type=source_type, source_name=source_name,
                                  config=config, settings=settings, changes=changes)
        if not returned:
            raise PluginBugError(owner, "write_back", "the plugin does not implement it")
        given = {change.change_id for change in changes}
        results: dict[int, WriteBackResult] = {}
        for result in returned[0] or ():
            if not isinstance(result, WriteBackResult) or result.change_id not in given:
                raise PluginBugError(owner, "write_back",
                                     f"returned {result!r}, expected a WriteBackResult of a change it was given")
            if result.outcome not in ("done", "retry", "failed"):
                raise PluginBugError(owner, "write_back", f"returned the unknown outcome {result.outcome!r}")
            results[result.change_id] = result
        return results

    def fetch_entries(
        self,
        source_type: str,
        source_name: str,
        config: Mapping[str, Any],
        fields: frozenset[str],
        state: FetchState,
        config_dir: Path | None = None,
    ) -> Iterable[Any]:
        """Call ``fetch_entries`` on the owning plugin only and return its iterable.

        ``config_dir``: where relative paths of ``config`` start (default: the working directory).

        An unexpected exception raised while the iterable is consumed becomes a :class:`PluginBugError`
        too, so callers handle :class:`pylantir.SourceError` and :class:`PluginBugError` only.
        """
        owner = self.owner(source_type, source_name)
        results = self.call_hook(
            owner,
            "fetch_entries",
            source_type=source_type,
            source_name=source_name,
            config=config,
            fields=fields,
            state=state,
            config_dir=config_dir or Path.cwd(),
        )
        if not results:
            raise PluginBugError(owner, "fetch_entries", "the plugin does not implement it")
        if not isinstance(results[0], Iterable) or isinstance(results[0], (str, bytes, Mapping)):
            raise PluginBugError(
                owner, "fetch_entries", f"returned {type(results[0]).__name__}, expected an iterable"
            )
        return _dispatch.guarded(owner, "fetch_entries", results[0])
