"""Machine time of the plugin author's journey, as a new author would run it, step by step.

Usage: python bench/kit_journey.py   (from the repository root; needs the sync engine and DICOM server)

Creates a real virtual environment with pip in a temporary directory, installs pylantir-core from this
tree (dependencies from the configured package index or wheel cache), then: scaffold a plugin,
``pip install -e`` it with its test extra, list it, run its generated tests, check a config with
``--fetch``, sync it. Prints the seconds of each step and the total.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPPING = {"mrn": "patient_id", "name": "patient_name", "exam_date": "scheduled_start_date", "modality": "modality"}


def step(label: str, *command: str, cwd: Path) -> float:
    """Run one command, fail loudly, return its wall time."""
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{label} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    print(f"{label:44} {elapsed:7.2f} s")
    return elapsed


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="pylantir-journey-") as tmp:
        work = Path(tmp)
        config = {"database_url": "sqlite:///worklist.sqlite",
                  "data_sources": [{"name": "demo", "type": "demo", "field_mapping": MAPPING}]}
        (work / "pylantir.json").write_text(json.dumps(config))
        bin_dir = work / "venv" / "bin"
        total = sum([
            step("python -m venv", sys.executable, "-m", "venv", str(work / "venv"), cwd=work),
            step("pip install pylantir-core (local tree)", str(bin_dir / "pip"), "install", "-q",
                 str(ROOT / "packages" / "pylantir-core"), cwd=work),
            step("pylantir sources new demo", str(bin_dir / "pylantir"), "sources", "new", "demo", cwd=work),
            step("pip install -e ./pylantir-demo[test]", str(bin_dir / "pip"), "install", "-q", "-e",
                 "./pylantir-demo[test]", cwd=work),
            step("pylantir sources list", str(bin_dir / "pylantir"), "sources", "list", cwd=work),
            step("pytest pylantir-demo/tests", str(bin_dir / "python"), "-m", "pytest", "-q", "pylantir-demo/tests",
                 cwd=work),
            step("pylantir sources check --fetch", str(bin_dir / "pylantir"), "sources", "check", "--config",
                 "pylantir.json", "--fetch", cwd=work),
            step("pylantir sync", str(bin_dir / "pylantir"), "sync", "--config", "pylantir.json", cwd=work),
        ])
        print(f"{'total':44} {total:7.2f} s")


if __name__ == "__main__":
    main()
