"""``pylantir run`` honours ``database_echo``: the SQL it runs is logged, with its parameters hidden."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pylantir.dicom.client import Peer, find, worklist_identifier

from .conftest import free_port, serving


@pytest.mark.parametrize("echo", [True, False])
def test_run_logs_its_sql_only_with_database_echo(tmp_path: Path, echo: bool) -> None:
    port = free_port()
    config = tmp_path / "pylantir.json"
    config.write_text(json.dumps({"database_url": f"sqlite:///{tmp_path / 'w.sqlite'}", "database_echo": echo,
                                  "server": {"port": port}}))
    peer = Peer("127.0.0.1", port)
    with serving(["run", "--config", str(config), "--no-sync"], peer) as server:
        identifier = worklist_identifier()
        identifier.PatientID = "SECRET-ID-42"
        find(peer, identifier)
    assert server.returncode == 0, server.stderr
    logged = server.stdout + server.stderr
    assert ("FROM worklist_items" in logged) is echo
    assert "SECRET-ID-42" not in logged
