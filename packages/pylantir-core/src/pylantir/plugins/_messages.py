"""What the loader tells people: one-line problem details, hints and the "no plugin for this type" text.

Every sentence a user reads about a plugin is written here, so the wording (quoted by
``docs/plugins/troubleshooting.md`` and checked by its test) has one home.
"""

from __future__ import annotations

import difflib
import inspect
import os
import traceback
from collections.abc import Iterable, Sequence
from types import ModuleType

from pylantir import __version__
from pylantir.plugins._environment import ENV_DISABLE
from pylantir.plugins._status import PluginInfo, PluginStatus


def describe_exception(exc: BaseException, code: Iterable[str] = ()) -> str:
    """``KeyError: 'x' (/path/plugin.py:12)``: the exception and the last frame inside the plugin.

    :param code: the files and directories holding the plugin's code (:attr:`PluginInfo.code`). The
        frame shown is the innermost one inside them, so an exception raised by the standard library
        or another dependency on the plugin's behalf points at the plugin's own line; the innermost frame
        of all when no frame is inside them (or they are not known).
    """
    frames = traceback.extract_tb(exc.__traceback__)
    inside = [frame for frame in frames if _is_inside(frame.filename, code)]
    shown = inside[-1] if inside else frames[-1] if frames else None
    where = f" ({shown.filename}:{shown.lineno})" if shown else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _is_inside(filename: str, code: Iterable[str]) -> bool:
    path = os.path.realpath(filename)
    return any(path == place or path.startswith(place + os.sep) for place in code)


def typo_message(name: str, hook_names: Sequence[str]) -> str:
    """A hook implementation whose name matches no hook, with the nearest hook name."""
    guess = difflib.get_close_matches(name, hook_names, n=1)
    hint = f"; did you mean '{guess[0]}'?" if guess else f"; hooks are: {', '.join(hook_names)}"
    return f"hook implementation '{name}' matches no Pylantir hook{hint}"


def forgotten_hookimpl_hint(module: ModuleType, hook_names: Sequence[str]) -> str:
    """Why a module registered no hook: hook-named functions without ``@hookimpl``, or none at all."""
    unmarked = [name for name in hook_names if inspect.isfunction(getattr(module, name, None))]
    if unmarked:
        return (
            f"it defines {', '.join(unmarked)} without @hookimpl "
            "(decorate them with 'from pylantir import hookimpl')"
        )
    return "it implements no Pylantir hook (functions need the @hookimpl decorator)"


def conflict_note(type_name: str, others: Sequence[PluginInfo]) -> str:
    """The detail of a plugin in conflict: who else declares the same source type."""
    return f"source type '{type_name}' is also provided by {', '.join(p.label for p in others)}"


def unavailable_message(
    source_type: str,
    source_name: str | None,
    providers: Sequence[PluginInfo],
    plugins: Sequence[PluginInfo],
    installed_types: Sequence[str],
) -> str:
    """Why no plugin can serve ``source_type``, and what to run next (one paragraph)."""
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
    lines.append(f"Installed types: {', '.join(installed_types) or 'none'}.")
    guess = difflib.get_close_matches(source_type, installed_types, n=1)
    if guess:
        lines.append(f"Did you mean '{guess[0]}'?")
    for info in plugins:
        if info.status is PluginStatus.DISABLED:
            lines.append(f"Plugin {info.label} is {info.detail}; enable it if it provides '{source_type}'.")
        elif info.status is PluginStatus.ERROR:
            lines.append(
                f"Plugin {info.label} failed to load ({info.phase}): {info.detail}. "
                f"Fix it with: pip install --force-reinstall {info.distribution or info.name}, "
                f"or switch it off with {ENV_DISABLE}={info.name}."
            )
    if not guess:
        lines.append(f"To install it, try: pip install pylantir-{source_type}")
    return " ".join(lines)
