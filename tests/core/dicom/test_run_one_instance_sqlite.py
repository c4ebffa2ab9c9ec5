"""One ``pylantir run`` per SQLite file: a second one is refused at start, and told to use PostgreSQL;
the other commands (``pylantir sync``) still run beside the server."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from pylantir.dicom.client import Peer
from pylantir.store.run_lock import Holder, run_lock_holder

from .conftest import PYLANTIR, free_port, serving


def test_a_second_run_on_one_sqlite_file_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "data" / "worklist.sqlite"
    config = tmp_path / "pylantir.json"
    config.write_text(json.dumps({"database_url": f"sqlite:///{database}"}))
    port, second_port = free_port(), free_port()
    assert run_lock_holder(f"sqlite:///{database}") is None
    with serving(["run", "--config", str(config), "--port", str(port)], Peer("127.0.0.1", port, timeout=2)) as first:
        assert run_lock_holder(f"sqlite:///{database}") == Holder(first.process.pid, os.uname().nodename)
        second = subprocess.run([*PYLANTIR, "run", "--config", str(config), "--port", str(second_port)],
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert f"pylantir run (pid {first.process.pid} on {os.uname().nodename}) already serves" in second.stderr
        assert str(database) in second.stderr and "use PostgreSQL" in second.stderr
        assert "Traceback" not in second.stderr
        beside = subprocess.run([*PYLANTIR, "sync", "--config", str(config)], capture_output=True, text=True,
                                timeout=60)
        assert beside.returncode == 0, beside.stderr
    assert first.returncode == 0, first.stderr
    assert run_lock_holder(f"sqlite:///{database}") is None
    # once the first has stopped, the file can be served again
    with serving(["run", "--config", str(config), "--port", str(second_port)],
                 Peer("127.0.0.1", second_port, timeout=2)) as again:
        pass
    assert again.returncode == 0, again.stderr
