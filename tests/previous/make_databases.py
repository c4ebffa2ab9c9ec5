"""Write the previous Pylantir's databases that the import tests read (``tests/previous/data/``).

Each file is written by the real previous Pylantir, installed from the package index into its own venv
(see ``conftest.py``), run as a site runs it (``pylantir start ... --pylantir_config FILE``) against the
fake REDCap (and Calpendo) of the test tree, then sent a scanner's MPPS for some exams:

- ``pylantir-0.4.6.sqlite``: 0.4.6, ``data_sources`` with a REDCap source ``cpip`` and a Calpendo source
  ``scanners``; one REDCap exam COMPLETED, one Calpendo booking IN PROGRESS, the rest SCHEDULED;
- ``pylantir-0.3.6-legacy.sqlite``: 0.3.6, the ``redcap2wl`` format; one exam COMPLETED, one DISCONTINUED;
- ``pylantir-0.3.6-data_sources.sqlite``: 0.3.6, ``data_sources`` with the REDCap source ``cpip``.

``shipped-0.4.6/`` holds the example configurations inside the 0.4.6 wheel. Next to each database,
``<name>.json`` is its configuration (``db_path`` left as ``{db_path}``) and
``manifest.json`` records the day the fake data was made for, so a test can serve the same data again.
Run from the repository root: ``python tests/previous/make_databases.py`` (a few minutes the first time,
while the previous versions install).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def _conftest() -> Any:
    path = Path(__file__).with_name("conftest.py")
    name = "previous_conftest"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


previous = _conftest()


def _serve(server: Any) -> Any:
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def _status_of(found: list[dict[str, Any]], patient_id: str) -> str:
    return next(row["performed_procedure_step_status"] for row in found if row["patient_id"] == patient_id)


def make(name: str, version: str, config: dict[str, Any], env: dict[str, str], expected_rows: int,
         finals: dict[str, str | None], workdir: Path) -> dict[str, Any]:
    """Run ``version`` on ``config`` until it holds ``expected_rows``, send the MPPS, keep the file."""
    server = previous.PreviousServer(version, config, workdir, env).start()
    try:
        found = server.wait_for(lambda found: len(found) >= expected_rows, f"{expected_rows} worklist rows")
        for patient_id, final in finals.items():
            row = next(row for row in found if row["patient_id"] == patient_id)
            previous.mpps(server.port, server.ae_title, patient_id, row["study_instance_uid"], final)
            wanted = {None: "IN_PROGRESS"}.get(final, final)
            server.wait_for(lambda found, p=patient_id, w=wanted: _status_of(found, p) == w, f"{wanted} {patient_id}")
    finally:
        server.stop()
    target = previous.DATA / f"{name}.sqlite"
    shutil.copyfile(server.db_path, target)
    template = dict(config, db_path="{db_path}")
    (previous.DATA / f"{name}.json").write_text(json.dumps(template, indent=2) + "\n", encoding="utf-8")
    print(f"{target}: {len(previous.rows(target))} rows from pylantir {version}")
    return {"version": version, "rows": len(previous.rows(target)), "mpps": finals}


def copy_shipped_examples(version: str) -> None:
    """The example configurations inside the previous wheel, as ``data/shipped-<version>/``."""
    venv = previous.previous_venv(version)
    [package] = venv.glob("lib/python*/site-packages/pylantir/config")
    target = previous.DATA / f"shipped-{version}"
    target.mkdir(exist_ok=True)
    for example in sorted(package.glob("*.json")):
        shutil.copyfile(example, target / example.name)


def main() -> int:
    for version in ("0.4.6", "0.3.6"):
        print(f"pylantir {version}: {previous.previous_venv(version)}")
    previous.DATA.mkdir(exist_ok=True)
    copy_shipped_examples("0.4.6")
    # naive server wall-clock time, as the previous Pylantir (run with TZ=UTC) asks REDCap for it
    now = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    redcap = _serve(previous.fake_redcap.FakeRedcap(previous.cpip_project(now)))
    calpendo = _serve(previous.fake_calpendo.FakeCalpendo("webdav", "UTC"))
    previous.calpendo_bookings(calpendo, now.replace(tzinfo=UTC))
    env = previous.credentials(redcap.url)
    made: dict[str, Any] = {"made_for": now.isoformat(), "calpendo_url": calpendo.url}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        for name, version, config, expected, finals in (
            ("pylantir-0.4.6", "0.4.6", previous.data_sources_config(root / "a.db", redcap.url, calpendo.url), 5,
             {"sub_1001_ses_1_fam_501_site_792": "COMPLETED", "SUB001": None}),
            ("pylantir-0.3.6-legacy", "0.3.6", previous.legacy_config(root / "b.db"), 3,
             {"sub_1001_ses_1_fam_501_site_792": "COMPLETED", "sub_1001_ses_2_fam_501_site_792": "DISCONTINUED"}),
            ("pylantir-0.3.6-data_sources", "0.3.6", previous.data_sources_config(root / "c.db", redcap.url, None),
             3, {"sub_1001_ses_1_fam_501_site_792": "COMPLETED"}),
        ):
            workdir = root / name
            workdir.mkdir()
            made[name] = make(name, version, config, env, expected, finals, workdir)
    redcap.shutdown()
    calpendo.shutdown()
    (previous.DATA / "manifest.json").write_text(json.dumps(made, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
