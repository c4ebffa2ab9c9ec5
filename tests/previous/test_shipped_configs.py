"""The example configurations shipped inside the previous Pylantir 0.4.6 wheel, and the specification's
multi-source example, load unchanged with ``pylantir config check``: exit 0, one deprecation warning."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
PYLANTIR = str(Path(sys.executable).with_name("pylantir"))
EXAMPLES = sorted((DATA / "shipped-0.4.6").glob("*.json")) + [DATA / "spec-multi-source.json"]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.name)
def test_a_previous_example_passes_config_check_with_one_deprecation_warning(example, tmp_path):
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PYLANTIR_")}
    done = subprocess.run([PYLANTIR, "config", "check", str(example)], capture_output=True, text=True,
                          cwd=tmp_path, env={**environment, "HOME": str(tmp_path)}, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr.count("DEPRECATED") == 1, done.stderr
    assert "Error" not in done.stderr
