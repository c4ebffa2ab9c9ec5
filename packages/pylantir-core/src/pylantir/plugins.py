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
"""

from __future__ import annotations

import difflib
import enum
import importlib.util
import inspect
import os
import re
import sys
import traceback
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from pylantir import __version__, hookspecs
from pylantir.contract import ConfigProblem, FetchState, SourceError, SourceType

ENTRY_POINT_GROUP = "pylantir"
ENV_LOAD = "PYLANTIR_LOAD_PLUGINS"
ENV_DISABLE = "PYLANTIR_DISABLE_PLUGINS"
ENV_STRICT = "PYLANTIR_STRICT_PLUGINS"

_TYPE_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_HOOK_NAMES = frozenset(
    name for name, obj in vars(hookspecs).items() if callable(obj) and hasattr(obj, "pylantir_spec")
)


class PluginStatus(enum.StrEnum):
    """Where a plugin ended after discovery."""

    OK = "ok"
    ERROR = "error"
    DISABLED = "disabled"
    CONFLICT = "conflict"
    EMPTY = "empty"


@dataclass
class PluginInfo:
    """Everything known about one discovered plugin."""

    name: str
    origin: str
    distribution: str | None = None
    version: str | None = None
    status: PluginStatus = PluginStatus.OK
    phase: str | None = None
    detail: str = ""
    source_types: list[SourceType] = field(default_factory=list)
    module: ModuleType | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """Distribution and version (``pylantir-csv 0.1.0``), or the file for a loose plugin."""
        if self.distribution:
            return f"{self.distribution} {self.version or '?'}"
        return f"{self.name} ({self.origin})"

    def fail(self, status: PluginStatus, detail: str, phase: str | None = None) -> None:
        self.status, self.detail, self.phase = status, detail, phase

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view, as printed by ``pylantir sources list --json``."""
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "origin": self.origin,
            "status": self.status.value,
            "phase": self.phase,
            "detail": self.detail,
            "source_types": [
                {"name": t.name, "summary": t.summary, "docs_url": t.docs_url}
                for t in self.source_types
            ],
        }


class PluginUnavailableError(Exception):
    """A configured source needs a plugin that is missing, broken, disabled or in conflict."""


class PluginBugError(Exception):
    """A plugin broke the hook contract (raised an unexpected exception, returned the wrong type)."""

    def __init__(self, plugin: PluginInfo, hook: str, message: str):
        super().__init__(f"plugin {plugin.label}, hook {hook}: {message}")
        self.plugin = plugin
        self.hook = hook


def normalize_name(name: str) -> str:
    """Compare plugin names the way pip compares distribution names."""
    return re.sub(r"[-_.]+", "-", name).strip().lower()


def _name_list(raw: str) -> set[str]:
    return {normalize_name(part) for part in raw.split(",") if part.strip()}


@dataclass(frozen=True)
class PluginFilter:
    """The allow-list and deny-list from the environment, applied before a plugin is imported."""

    allowed: frozenset[str] | None = None
    denied: frozenset[str] = frozenset()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> PluginFilter:
        allowed = environ.get(ENV_LOAD)
        return cls(
            allowed=None if allowed is None else frozenset(_name_list(allowed)),
            denied=frozenset(_name_list(environ.get(ENV_DISABLE, ""))),
        )

    def why_disabled(self, name: str) -> str | None:
        key = normalize_name(name)
        if key in self.denied:
            return f"disabled by {ENV_DISABLE}"
        if self.allowed is not None and key not in self.allowed:
            return f"not in {ENV_LOAD}"
        return None


def strict_mode(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``PYLANTIR_STRICT_PLUGINS`` asks for plugin problems to fail commands."""
    value = (environ if environ is not None else os.environ).get(ENV_STRICT, "")
    return value.strip().lower() in {"1", "true", "yes", "on"}


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
        found = sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
        for entry_point in found:
            if only is not None and normalize_name(entry_point.name) != normalize_name(only):
                continue
            dist = entry_point.dist
            info = PluginInfo(
                name=entry_point.name,
                origin=f"entry point {entry_point.name} = {entry_point.value}",
                distribution=dist.metadata["Name"] if dist else None,
                version=dist.version if dist else None,
            )
            self._offer(info, entry_point.load)
        self._mark_conflicts()

    def load_directory(self, directory: Path) -> None:
        """Load every ``*.py`` file of ``directory`` (not recursive, ``_``-prefixed files skipped)."""
        if not directory.is_dir():
            info = PluginInfo(name=str(directory), origin=str(directory))
            info.fail(PluginStatus.ERROR, f"plugin directory {directory} does not exist", "import")
            self.plugins.append(info)
            return
        for path in sorted(directory.glob("*.py")):
            if path.name.startswith("_"):
                continue
            info = PluginInfo(name=path.stem, origin=str(path))
            self._offer(info, lambda path=path: _import_file(path))
        self._mark_conflicts()

    def register_module(
        self, module: ModuleType, name: str | None = None, *, distribution: str | None = None
    ) -> PluginInfo:
        """Register an already imported plugin module, with the same checks as discovery."""
        info = PluginInfo(
            name=name or module.__name__, origin=f"module {module.__name__}", distribution=distribution
        )
        self._offer(info, lambda: module)
        self._mark_conflicts()
        return info

    def unregister(self, info: PluginInfo) -> None:
        """Remove a plugin again (its hooks stop being called)."""
        if info.module is not None and self._pm.is_registered(info.module):
            self._pm.unregister(info.module)
        self.plugins.remove(info)
        self._mark_conflicts()

    def _offer(self, info: PluginInfo, load: Any) -> None:
        self.plugins.append(info)
        reason = self._filter.why_disabled(info.name)
        if reason:
            info.fail(PluginStatus.DISABLED, reason)
            return
        try:
            module = load()
        except BaseException as exc:  # noqa: BLE001 - a plugin import may raise anything
            if isinstance(exc, KeyboardInterrupt):
                raise
            info.fail(PluginStatus.ERROR, _describe(exc), "import")
            return
        info.module = module
        self._register(info, module)

    def _register(self, info: PluginInfo, module: Any) -> None:
        implemented = self._marked_hooks(module)
        unknown = sorted(implemented - _HOOK_NAMES)
        if not implemented:
            info.fail(PluginStatus.EMPTY, _forgotten_hookimpl_hint(module))
            return
        if unknown:
            info.fail(PluginStatus.ERROR, "; ".join(_typo_message(n) for n in unknown), "validate")
            return
        try:
            self._pm.register(module, name=f"{info.name}@{id(module)}")
        except Exception as exc:  # noqa: BLE001 - pluggy validation, or ValueError on re-register
            info.fail(PluginStatus.ERROR, _describe(exc), "register")
            return
        try:
            info.source_types = self._declared_types(module)
        except Exception as exc:  # noqa: BLE001 - a plugin's source_types may raise anything
            self._pm.unregister(module)
            info.fail(PluginStatus.ERROR, _describe(exc), "validate")
            return
        if not info.source_types:
            self._pm.unregister(module)
            info.fail(PluginStatus.EMPTY, "its source_types hook declares no source type")

    def _marked_hooks(self, module: Any) -> set[str]:
        names = set()
        for attr in dir(module):
            opts = self._pm.parse_hookimpl_opts(module, attr)
            if opts is not None:
                names.add(opts.get("specname") or attr)
        return names

    def _declared_types(self, module: Any) -> list[SourceType]:
        caller = self._only(module, "source_types")
        declared: list[SourceType] = []
        for result in caller():
            if isinstance(result, SourceType):
                result = [result]
            for item in result or ():
                if not isinstance(item, SourceType):
                    raise TypeError(f"source_types returned {item!r}, expected pylantir.SourceType")
                if not _TYPE_NAME.match(item.name):
                    raise ValueError(
                        f"source type name {item.name!r} must be lower-case letters, digits, '_' or '-'"
                    )
                declared.append(item)
        return declared

    def _mark_conflicts(self) -> None:
        for info in self.plugins:
            if info.status is PluginStatus.CONFLICT:
                info.status, info.detail = PluginStatus.OK, ""
        for type_name, providers in self._providers().items():
            if len(providers) < 2:
                continue
            for info in providers:
                others = ", ".join(p.label for p in providers if p is not info)
                note = f"source type '{type_name}' is also provided by {others}"
                info.fail(
                    PluginStatus.CONFLICT, f"{info.detail}; {note}" if info.detail else note
                )

    def _providers(self) -> dict[str, list[PluginInfo]]:
        providers: dict[str, list[PluginInfo]] = {}
        for info in self.plugins:
            if info.status in (PluginStatus.OK, PluginStatus.CONFLICT):
                for declared in info.source_types:
                    providers.setdefault(declared.name, []).append(info)
        return providers

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
        return [
            p for p in self.plugins if p.status not in (PluginStatus.OK, PluginStatus.DISABLED)
        ]

    def owner(self, source_type: str, source_name: str | None = None) -> PluginInfo:
        """The plugin that provides ``source_type``, or a :class:`PluginUnavailableError` saying why not."""
        providers = self._providers().get(source_type, [])
        if len(providers) == 1 and providers[0].status is PluginStatus.OK:
            return providers[0]
        raise PluginUnavailableError(self._unavailable_message(source_type, source_name, providers))

    def validate_config(self, source_type: str, config: Mapping[str, Any]) -> list[ConfigProblem]:
        """Call ``validate_config`` on the owning plugin only; an unimplemented hook means valid."""
        owner = self.owner(source_type)
        problems: list[ConfigProblem] = []
        for result in self._call(owner, "validate_config", source_type=source_type, config=config):
            for problem in result or ():
                if not isinstance(problem, ConfigProblem):
                    raise PluginBugError(
                        owner, "validate_config", f"returned {problem!r}, expected ConfigProblem"
                    )
                problems.append(problem)
        return problems

    def fetch_entries(
        self,
        source_type: str,
        source_name: str,
        config: Mapping[str, Any],
        fields: frozenset[str],
        state: FetchState,
    ) -> Iterable[Any]:
        """Call ``fetch_entries`` on the owning plugin only and return its items.

        An unexpected exception from the call or while iterating is a :class:`PluginBugError` (the one place
        that wraps a plugin's iterable); a :class:`SourceError` passes as it is.
        """
        owner = self.owner(source_type, source_name)
        results = self._call(
            owner,
            "fetch_entries",
            source_type=source_type,
            source_name=source_name,
            config=config,
            fields=fields,
            state=state,
        )
        if not results:
            raise PluginBugError(owner, "fetch_entries", "the plugin does not implement it")
        if not isinstance(results[0], Iterable) or isinstance(results[0], (str, bytes, Mapping)):
            raise PluginBugError(
                owner, "fetch_entries", f"returned {type(results[0]).__name__}, expected an iterable"
            )
        return _guarded_items(owner, results[0])

    def _call(self, owner: PluginInfo, hook_name: str, **kwargs: Any) -> list[Any]:
        try:
            return self._only(owner.module, hook_name)(**kwargs)
        except SourceError:
            raise
        except Exception as exc:
            raise PluginBugError(owner, hook_name, _describe(exc)) from exc

    def _only(self, module: Any, hook_name: str) -> Any:
        others = [p for p in self._pm.get_plugins() if p is not module]
        return self._pm.subset_hook_caller(hook_name, remove_plugins=others)

    def _unavailable_message(
        self, source_type: str, source_name: str | None, providers: Sequence[PluginInfo]
    ) -> str:
        subject = f"source '{source_name}' (type '{source_type}')" if source_name else f"type '{source_type}'"
        core = f"pylantir-core {__version__}"
        if len(providers) > 1:
            names = " and ".join(p.label for p in providers)
            fix = " or ".join(f"pip uninstall {p.distribution or p.name}" for p in providers)
            return (
                f"{subject}: source type '{source_type}' is provided by both {names} ({core}). "
                f"Keep one: {fix}, or set {ENV_DISABLE}=<name> for the one to ignore."
            )
        lines = [f"{subject}: no working plugin provides source type '{source_type}' ({core})."]
        installed = sorted(self.source_types())
        lines.append(f"Installed types: {', '.join(installed) or 'none'}.")
        guess = difflib.get_close_matches(source_type, installed, n=1)
        if guess:
            lines.append(f"Did you mean '{guess[0]}'?")
        for info in self.plugins:
            if info.status is PluginStatus.DISABLED:
                lines.append(
                    f"Plugin {info.label} is {info.detail}; enable it if it provides '{source_type}'."
                )
            elif info.status is PluginStatus.ERROR:
                lines.append(
                    f"Plugin {info.label} failed to load ({info.phase}): {info.detail}. "
                    f"Fix it with: pip install --force-reinstall {info.distribution or info.name}, "
                    f"or switch it off with {ENV_DISABLE}={info.name}."
                )
        if not guess:
            lines.append(f"To install it, try: pip install pylantir-{source_type}")
        return " ".join(lines)


def _import_file(path: Path) -> ModuleType:
    module_name = "pylantir_dir_plugin_" + re.sub(r"\W", "_", path.stem)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def _guarded_items(owner: PluginInfo, items: Iterable[Any]) -> Iterator[Any]:
    """The plugin's items; an unexpected exception while iterating becomes a :class:`PluginBugError`."""
    try:
        yield from items
    except SourceError:
        raise
    except Exception as exc:
        raise PluginBugError(owner, "fetch_entries", _describe(exc)) from exc


def _describe(exc: BaseException) -> str:
    """One line for the table; the last frame inside the plugin when there is one."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _typo_message(name: str) -> str:
    guess = difflib.get_close_matches(name, sorted(_HOOK_NAMES), n=1)
    hint = f"; did you mean '{guess[0]}'?" if guess else f"; hooks are: {', '.join(sorted(_HOOK_NAMES))}"
    return f"hook implementation '{name}' matches no Pylantir hook{hint}"


def _forgotten_hookimpl_hint(module: Any) -> str:
    unmarked = sorted(
        name
        for name in _HOOK_NAMES
        if inspect.isfunction(getattr(module, name, None))
    )
    if unmarked:
        return (
            f"it defines {', '.join(unmarked)} without @hookimpl "
            "(decorate them with 'from pylantir import hookimpl')"
        )
    return "it implements no Pylantir hook (functions need the @hookimpl decorator)"
