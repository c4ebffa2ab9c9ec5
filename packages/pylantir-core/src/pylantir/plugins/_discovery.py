"""Finding plugins and admitting each one under its own error handling.

A candidate is a :class:`PluginInfo` plus a way to import its module: an installed entry point of
group ``pylantir``, a ``*.py`` file of the plugin directory, or a module already imported. Admitting
one applies the environment's allow/deny lists (before importing), imports it, checks what pluggy does
not check (hook names matching no hookspec, hook-named functions without ``@hookimpl``, the source types
it declares) and registers it. Nothing a plugin does escapes as an exception: it ends in a status.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from pylantir import hookspecs
from pylantir.contract import SourceType
from pylantir.plugins import _dispatch
from pylantir.plugins._environment import PluginFilter, normalize_name
from pylantir.plugins._messages import conflict_note, describe_exception, forgotten_hookimpl_hint, typo_message
from pylantir.plugins._status import PluginInfo, PluginStatus

ENTRY_POINT_GROUP = "pylantir"

#: Every hook of the contract, from :mod:`pylantir.hookspecs`: a new hookspec needs no change here.
HOOK_NAMES: tuple[str, ...] = tuple(
    sorted(name for name, obj in vars(hookspecs).items() if callable(obj) and hasattr(obj, "pylantir_spec"))
)
_TYPE_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")

Loader = Callable[[], ModuleType]


def entry_points(only: str | None = None) -> Iterator[tuple[PluginInfo, Loader]]:
    """The installed entry points of group ``pylantir`` (by name; just ``only`` when given)."""
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
            code=code_locations(entry_point.module),
        )
        yield info, entry_point.load


def directory_files(directory: Path) -> Iterator[tuple[PluginInfo, Loader]]:
    """Every ``*.py`` file of ``directory`` (not recursive, ``_``-prefixed files skipped)."""
    for path in sorted(directory.glob("*.py")):
        if not path.name.startswith("_"):
            info = PluginInfo(name=path.stem, origin=str(path), code=(os.path.realpath(path),))
            yield info, functools.partial(import_file, path)


def missing_directory(directory: Path) -> PluginInfo:
    """The ``error`` entry that stands for a plugin directory that does not exist."""
    info = PluginInfo(name=str(directory), origin=str(directory))
    info.fail(PluginStatus.ERROR, f"plugin directory {directory.absolute()} does not exist", "import")
    return info


def code_locations(module_name: str) -> tuple[str, ...]:
    """Real paths of the top-level package (or module) holding ``module_name``, found without importing it."""
    try:
        spec = importlib.util.find_spec(module_name.partition(".")[0])
    except (ImportError, ValueError):  # a broken parent, or a module without __spec__
        return ()
    if spec is None:
        return ()
    places = list(spec.submodule_search_locations or ()) or ([spec.origin] if spec.has_location and spec.origin else [])
    return tuple(os.path.realpath(place) for place in places)


def import_file(path: Path) -> ModuleType:
    """Import a loose plugin file under a private module name; a failed import leaves no module behind."""
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


def admit(pm: pluggy.PluginManager, plugin_filter: PluginFilter, info: PluginInfo, load: Loader) -> None:
    """Import, check and register one plugin; ``info`` ends in its status (only Ctrl-C escapes)."""
    reason = plugin_filter.why_disabled(info.name)
    if reason:
        info.fail(PluginStatus.DISABLED, reason)
        return
    try:
        module = load()
    except BaseException as exc:  # noqa: BLE001 - a plugin import may raise anything, SystemExit included
        if isinstance(exc, KeyboardInterrupt):
            raise
        info.fail(PluginStatus.ERROR, describe_exception(exc, info.code), "import")
        return
    info.module = module
    _register(pm, info, module)


def _register(pm: pluggy.PluginManager, info: PluginInfo, module: ModuleType) -> None:
    implemented = _marked_hooks(pm, module)
    unknown = sorted(implemented - set(HOOK_NAMES))
    if not implemented:
        info.fail(PluginStatus.EMPTY, forgotten_hookimpl_hint(module, HOOK_NAMES))
        return
    if unknown:
        info.fail(PluginStatus.ERROR, "; ".join(typo_message(n, HOOK_NAMES) for n in unknown), "validate")
        return
    try:
        pm.register(module, name=f"{info.name}@{id(module)}")
    except Exception as exc:  # noqa: BLE001 - pluggy validation, or ValueError on re-register
        info.fail(PluginStatus.ERROR, describe_exception(exc, info.code), "register")
        return
    try:
        info.source_types = _declared_types(_dispatch.only(pm, module, "source_types")())
    except Exception as exc:  # noqa: BLE001 - a plugin's source_types may raise anything
        pm.unregister(module)
        info.fail(PluginStatus.ERROR, describe_exception(exc, info.code), "validate")
        return
    if not info.source_types:
        pm.unregister(module)
        info.fail(PluginStatus.EMPTY, "its source_types hook declares no source type")


def _marked_hooks(pm: pluggy.PluginManager, module: ModuleType) -> set[str]:
    names = set()
    for attr in dir(module):
        opts = pm.parse_hookimpl_opts(module, attr)
        if opts is not None:
            names.add(opts.get("specname") or attr)
    return names


def _declared_types(results: Sequence[Any]) -> list[SourceType]:
    declared: list[SourceType] = []
    for result in results:
        for item in [result] if isinstance(result, SourceType) else result or ():
            if not isinstance(item, SourceType):
                raise TypeError(f"source_types returned {item!r}, expected pylantir.SourceType")
            if not _TYPE_NAME.match(item.name):
                raise ValueError(f"source type name {item.name!r} must be lower-case letters, digits, '_' or '-'")
            declared.append(item)
    return declared


def providers(plugins: Sequence[PluginInfo]) -> dict[str, list[PluginInfo]]:
    """Source type name -> the plugins declaring it (``ok`` or in ``conflict``)."""
    by_type: dict[str, list[PluginInfo]] = {}
    for info in plugins:
        if info.status in (PluginStatus.OK, PluginStatus.CONFLICT):
            for declared in info.source_types:
                by_type.setdefault(declared.name, []).append(info)
    return by_type


def mark_conflicts(plugins: Sequence[PluginInfo]) -> None:
    """Mark every plugin that declares a source type another plugin declares too (and only those)."""
    for info in plugins:
        if info.status is PluginStatus.CONFLICT:
            info.status, info.detail = PluginStatus.OK, ""
    for type_name, declaring in providers(plugins).items():
        if len(declaring) < 2:
            continue
        for info in declaring:
            note = conflict_note(type_name, [p for p in declaring if p is not info])
            info.fail(PluginStatus.CONFLICT, f"{info.detail}; {note}" if info.detail else note)
