"""``pylantir run`` as a real process, and the ``echo`` / ``find`` client commands against a real server."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pylantir.cli.main import cli
from pylantir.dicom.client import DicomClientError, Peer, echo
from pylantir.store import WorklistItem
from pylantir.sync.clock import site_today

from .conftest import PYLANTIR, free_port, serving

# The client commands do not depend on the database backend.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def write_config(tmp_path: Path, **extra: Any) -> Path:
    """A configuration file with a SQLite database in ``tmp_path``."""
    path = tmp_path / "pylantir.json"
    path.write_text(json.dumps({"database_url": f"sqlite:///{tmp_path / 'run.sqlite'}", **extra}))
    return path


def run_and_stop(args: list[str], port: int) -> tuple[int, str]:
    """Start ``pylantir run``, wait for it to serve, send SIGTERM; (exit code, stderr)."""
    with serving(args, Peer("127.0.0.1", port, timeout=2)) as process:
        pass
    return process.returncode, process.stderr


def test_run_no_sync_serves_then_stops_cleanly(tmp_path: Path) -> None:
    """--no-sync serves with the CLI overrides, logs one start line, and SIGTERM exits 0."""
    port = free_port()
    code, err = run_and_stop(
        ["run", "--config", str(write_config(tmp_path)), "--no-sync", "--no-http", "--port", str(port),
         "--ae-title", "TESTAE"],
        port,
    )
    assert code == 0, err
    [start_line] = [line for line in err.splitlines() if "pylantir serving" in line]
    assert "TESTAE" in start_line and f"port {port}" in start_line and "run.sqlite" in start_line
    assert "sync disabled" in start_line


def test_run_with_sync(tmp_path: Path) -> None:
    """Without --no-sync the sync engine starts before the port opens and stops with the server."""
    port = free_port()
    code, err = run_and_stop(["run", "--config", str(write_config(tmp_path)), "--port", str(port), "--no-http"], port)
    assert code == 0, err
    assert "sources: none" in err


def test_run_refuses_unusable_sources_before_listening(tmp_path: Path) -> None:
    """Source problems are listed and the command exits non-zero without opening the port."""
    port = free_port()
    config = write_config(tmp_path, data_sources=[{"name": "ghost", "type": "no-such-plugin"}])
    result = subprocess.run([*PYLANTIR, "run", "--config", str(config), "--port", str(port), "--no-http"], check=False,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "ghost" in result.stderr
    with pytest.raises(DicomClientError):
        echo(Peer("127.0.0.1", port, timeout=2))


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--ae-title", "A" * 17], "--ae-title"), (["--port", "70000"], "--port")],
)
def test_run_rejects_bad_overrides(tmp_path: Path, args: list[str], message: str) -> None:
    """Invalid overrides are usage errors naming the option."""
    result = CliRunner().invoke(cli, ["run", "--config", str(write_config(tmp_path)), "--no-sync", "--no-http", *args])
    assert result.exit_code == 2
    assert message in result.output


@SQLITE_ONLY
def test_echo_command(peer: Peer) -> None:
    """``pylantir echo`` reports success."""
    result = CliRunner().invoke(cli, ["echo", peer.host, str(peer.port)])
    assert result.exit_code == 0 and "success" in result.output


@pytest.mark.parametrize("command", ["echo", "find"])
def test_a_closed_port_is_named_without_a_traceback(command: str) -> None:
    """Against a port nobody listens on, both commands say so in one line and exit non-zero."""
    port = free_port()
    result = subprocess.run([*PYLANTIR, command, "127.0.0.1", str(port), "--timeout", "2"], check=False,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr == f"Error: connection refused: is a server listening on 127.0.0.1:{port}?\n"


@SQLITE_ONLY
def test_find_command(add_items: Callable[..., list[WorklistItem]], peer: Peer) -> None:
    """``pylantir find`` filters by date/modality/station and prints a table or JSON."""
    today = site_today("UTC").strftime("%Y%m%d")  # no --config or --timezone: the configuration's default
    add_items({"patient_id": "TODAY", "date": today, "patient_name": "Ünal^Ayşe"},
              {"patient_id": "OTHER", "date": "20200101"}, {"patient_id": "CT", "date": today, "modality": "CT"})
    base = ["find", peer.host, str(peer.port)]
    result = CliRunner().invoke(cli, [*base, "--date", "today", "--modality", "MR", "--station", "MR1", "--json"])
    assert result.exit_code == 0, result.output
    [record] = json.loads(result.output)
    assert record["PatientID"] == "TODAY" and record["PatientName"] == "Ünal^Ayşe" and record["Modality"] == "MR"
    table = CliRunner().invoke(cli, [*base, "--date", "20200101-20200102"])
    assert table.exit_code == 0 and "OTHER" in table.output and "TODAY" not in table.output
    nothing = CliRunner().invoke(cli, [*base, "--modality", "XA"])
    assert "No matching worklist items." in nothing.output
    bad = CliRunner().invoke(cli, [*base, "--date", "yesterday"])
    assert bad.exit_code == 2 and "--date" in bad.output


def test_run_hides_the_database_password(tmp_path: Path, postgres_url: str) -> None:
    """The start line names the database without its password."""
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url).set(password="s3cret-pw").render_as_string(hide_password=False)
    config = tmp_path / "pylantir.json"
    config.write_text(json.dumps({"database_url": url}))
    port = free_port()
    code, err = run_and_stop(["run", "--config", str(config), "--no-sync", "--no-http", "--port", str(port)], port)
    assert code == 0, err
    [start_line] = [line for line in err.splitlines() if "pylantir serving" in line]
    assert "s3cret-pw" not in err and "***" in start_line
