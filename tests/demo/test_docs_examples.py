"""The configurations shown in the docs are valid: every ```json block of a source, and the demo config."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pylantir.config import PylantirConfig, load_config
from pylantir.plugins import PluginRegistry
from pylantir.sync.checks import check_sources

ROOT = Path(__file__).resolve().parents[2]
SOURCE_BLOCKS = re.compile(r"```json\n(.*?)```", re.S)


def registry() -> PluginRegistry:
    files = PluginRegistry()
    files.load_entry_points(only="pylantir-csv")
    files.load_entry_points(only="pylantir-json")
    return files


@pytest.mark.parametrize("page", ["docs/sources-csv-json.md"])
def test_source_examples_in_the_docs_are_valid(page: str):
    sources = [json.loads(block) for block in SOURCE_BLOCKS.findall((ROOT / page).read_text())]
    assert sources, f"no ```json example in {page}"
    config = PylantirConfig.model_validate({"data_sources": sources})
    assert check_sources(config, registry()) == []


def test_the_demo_config_is_valid():
    config = load_config(ROOT / "examples" / "demo" / "config.json")
    assert [source.type for source in config.data_sources] == ["csv", "json"]
    assert check_sources(config, registry()) == []
