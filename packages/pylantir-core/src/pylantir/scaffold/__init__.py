"""Write a new source-plugin distribution from the templates in ``templates/`` (offline, stdlib only).

``pylantir sources new NAME`` uses :func:`create`; the result installs with ``pip install -e``, is
listed as ``ok`` by ``pylantir sources list`` and passes its own tests right away.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from pylantir import __version__

_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")

#: template file -> path inside the new distribution (``$module`` is the import name).
FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "plugin.py.tmpl": "src/$module/__init__.py",
    "test_plugin.py.tmpl": "tests/test_$module.py",
}


class ScaffoldError(ValueError):
    """The plugin cannot be created (bad name, target exists); the message says why."""


@dataclass(frozen=True)
class PluginNames:
    """The names of one plugin: source type ``demo``, distribution ``pylantir-demo``, module ``pylantir_demo``."""

    type_name: str
    distribution: str
    module: str

    @classmethod
    def from_name(cls, name: str) -> PluginNames:
        """Derive every name from ``NAME`` (a leading ``pylantir-`` is accepted and dropped)."""
        type_name = name.strip().removeprefix("pylantir-")
        if not _NAME.match(type_name):
            raise ScaffoldError(
                f"invalid plugin name {name!r}: use lower-case letters, digits, '_' or '-', starting with a letter "
                "(it becomes the source type, e.g. 'ris' -> type 'ris', distribution 'pylantir-ris')"
            )
        return cls(type_name, f"pylantir-{type_name}", "pylantir_" + type_name.replace("-", "_"))


def core_requirement(version: str = __version__) -> str:
    """The ``pylantir-core`` range a plugin built against ``version`` declares (see docs/plugins/versioning.md).

    Before 1.0 a minor release may break plugins (``>=0.1,<0.2``); from 1.0 only a major one (``>=1.2,<2``).
    """
    major, minor = (int(part) for part in re.findall(r"\d+", version)[:2])
    upper = f"{major}.{minor + 1}" if major == 0 else str(major + 1)
    return f"pylantir-core>={major}.{minor},<{upper}"


def render(names: PluginNames) -> dict[str, str]:
    """Relative path -> content of every file of the new distribution."""
    values = {
        "type": names.type_name,
        "dist": names.distribution,
        "module": names.module,
        "core_requirement": core_requirement(),
    }
    templates = resources.files(__package__) / "templates"
    return {
        Template(target).substitute(values): Template((templates / source).read_text(encoding="utf-8")).substitute(
            values
        )
        for source, target in FILES.items()
    }


def create(names: PluginNames, parent: Path) -> Path:
    """Write the distribution into ``parent / names.distribution``, which must not exist yet."""
    root = parent / names.distribution
    if root.exists():
        raise ScaffoldError(f"{root} already exists; remove it or choose another --dir")
    for relative, content in render(names).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return root
