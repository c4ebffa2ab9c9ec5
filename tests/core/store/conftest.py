"""Helpers for store tests: valid worklist rows and configuration files pointing at a database."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pylantir.cli.main import cli
from pylantir.store import WorklistItem


def _worklist_values(**overrides: Any) -> dict[str, Any]:
    """Column values of a valid worklist row (unique identity), with ``overrides`` applied."""
    key = uuid.uuid4().hex[:12]
    values: dict[str, Any] = {
        "identity": f"test:{key}",
        "source_name": "site_a",
        "source_key": key,
        "content_hash": "0" * 64,
        "patient_id": f"P{key}",
        "patient_name": "Doe^Jane",
        "study_instance_uid": f"1.2.826.0.1.3680043.10.{int(key, 16)}",
        "modality": "MR",
        "scheduled_station_aetitle": "MR1",
        "scheduled_start_date": "20250102",
        "scheduled_start_time": "093000",
    }
    values.update(overrides)
    values.setdefault("scheduled_start", values["scheduled_start_date"] + (values["scheduled_start_time"] or ""))
    return values


@pytest.fixture
def worklist_values() -> Callable[..., dict[str, Any]]:
    """Column values of a valid worklist row (unique identity), with the given overrides."""
    return _worklist_values


@pytest.fixture
def make_item() -> Callable[..., WorklistItem]:
    """Build a valid :class:`WorklistItem` (not yet added to a session)."""
    return lambda **overrides: WorklistItem(**_worklist_values(**overrides))


@pytest.fixture
def config_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Write a configuration file for ``database_url`` (and other top-level settings)."""
    monkeypatch.delenv("PYLANTIR_DATABASE_URL", raising=False)

    def write(database_url: str, **settings: Any) -> Path:
        path = tmp_path / "pylantir.json"
        path.write_text(json.dumps({"database_url": database_url, **settings}), encoding="utf-8")
        return path

    return write


@pytest.fixture
def run() -> Callable[..., Result]:
    """Invoke ``pylantir ARGS`` in-process."""
    return lambda *args: CliRunner().invoke(cli, list(args), prog_name="pylantir")
