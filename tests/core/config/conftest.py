"""Helpers for configuration tests: write config files, run the CLI in-process, a test plugin."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pylantir.cli.main import cli

ConfigWriter = Callable[..., Path]

#: A previous-Pylantir configuration file, shaped like the one it shipped.
LEGACY_FILE: dict[str, Any] = {
    "db_path": "~/pylantir-test/worklist.db",
    "db_echo": "0",
    "db_update_interval": 90,
    "allowed_aet": ["MRI_SCANNER"],
    "operation_interval": {"start_time": [8, 0], "end_time": [18, 30]},
    "mri_visit_session_mapping": {"t1_arm_1": "1"},
    "site": "792",
    "redcap2wl": {
        "study_id": "study_id",
        "family_id": "family_id",
        "youth_dob_y": "youth_dob_y",
        "demo_sex": "demo_sex",
        "mri_wt_lbs": "patient_weight_lb",
        "referring_physician": "referring_physician_name",
    },
    "protocol": {"792": "BRAIN_MRI_3T"},
    "_comment_data_sources": "kept from the shipped example",
}

#: A test plugin (loaded from a plugin directory) providing types ``alpha`` and ``beta``.
CHECK_PLUGIN = textwrap.dedent(
    """
    from pydantic import BaseModel, ConfigDict

    from pylantir import ConfigProblem, SourceType, hookimpl
    from pylantir.validation import problems_from_model


    class AlphaConfig(BaseModel):
        model_config = ConfigDict(extra="forbid")
        path: str
        warn: bool = False


    @hookimpl
    def source_types():
        return [SourceType("alpha", "test type alpha"), SourceType("beta", "test type beta")]


    @hookimpl
    def validate_config(source_type, config):
        if source_type != "alpha":
            return []
        problems = problems_from_model(AlphaConfig, config)
        if config.get("warn"):
            problems.append(ConfigProblem("path", "the file does not exist yet", "warning"))
        return problems
    """
)


@pytest.fixture
def write_config(tmp_path: Path) -> ConfigWriter:
    """Write a config file (a dict as JSON, or text as is) and return its path."""

    def write(content: dict[str, Any] | str, name: str = "pylantir.json") -> Path:
        path = tmp_path / name
        text = content if isinstance(content, str) else json.dumps(content, indent=2)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def check_plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A plugin directory with the ``checktypes`` plugin, the only plugin allowed to load."""
    directory = tmp_path / "plugins"
    directory.mkdir()
    (directory / "checktypes.py").write_text(CHECK_PLUGIN, encoding="utf-8")
    monkeypatch.setenv("PYLANTIR_LOAD_PLUGINS", "checktypes")
    monkeypatch.delenv("PYLANTIR_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("PYLANTIR_STRICT_PLUGINS", raising=False)
    return directory


@pytest.fixture
def run() -> Callable[..., Result]:
    """Invoke ``pylantir ARGS`` in-process."""

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), prog_name="pylantir")

    return invoke


@pytest.fixture
def legacy_file() -> dict[str, Any]:
    """A fresh copy of :data:`LEGACY_FILE` to modify."""
    return json.loads(json.dumps(LEGACY_FILE))
