"""How PostgreSQL sessions end when an instance is cut off the network (not killed: its packets just stop).

The server notices a silent peer only through TCP: by default a session of a cut-off client lives on for
hours (the kernel's keepalive, two hours; or about 15 minutes of retransmissions), holding what it held: the
sync leadership's advisory locks, and a write transaction's uncommitted rows, which block another instance's
sync of the same entries. So every session Pylantir opens sets, on the server's side of its socket,
keepalives and a TCP user timeout (:data:`SERVER_TCP`, each where the server has it: ``tcp_user_timeout``
since PostgreSQL 12): the server ends the session after at most :data:`SERVER_SILENCE_SECONDS` without an
answer. On the client side (libpq drivers) keepalives and a TCP user timeout (:data:`CLIENT_TCP`) make a
request that the server does not acknowledge fail, so the cut-off instance finds out too.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import URL

#: Server-side settings of every session: probes after 5 s idle, 5 s apart, 3 of them; 20 s unacknowledged.
SERVER_TCP = {"tcp_keepalives_idle": 5, "tcp_keepalives_interval": 5, "tcp_keepalives_count": 3,
              "tcp_user_timeout": 20_000}
#: The longest the server keeps the session of a peer cut off the network (seconds).
SERVER_SILENCE_SECONDS = max(
    SERVER_TCP["tcp_keepalives_idle"] + SERVER_TCP["tcp_keepalives_interval"] * SERVER_TCP["tcp_keepalives_count"],
    SERVER_TCP["tcp_user_timeout"] / 1000)
#: Client side (libpq ``connect`` arguments): a request the server does not acknowledge within 10 s fails.
CLIENT_TCP = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3,
              "tcp_user_timeout": 10_000}
_LIBPQ_DRIVERS = ("psycopg2", "psycopg")
_SET_SERVER_TCP = (
    "SELECT set_config(s.name, v.setting, false) FROM (VALUES "
    + ", ".join(f"('{name}', '{value}')" for name, value in SERVER_TCP.items())
    + ") AS v(name, setting) JOIN pg_settings s ON s.name = v.name"
)


def client_connect_args(url: URL) -> dict[str, Any]:
    """The ``connect_args`` of a PostgreSQL engine at ``url`` (empty for drivers that are not libpq's)."""
    return dict(CLIENT_TCP) if url.get_driver_name() in _LIBPQ_DRIVERS else {}


def _set_server_tcp(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(_SET_SERVER_TCP)
    finally:
        cursor.close()
    dbapi_connection.commit()  # a session setting made in a transaction that rolls back is undone


def end_silent_sessions(engine: Engine) -> None:
    """Give every new session of ``engine`` (PostgreSQL) the server-side settings of :data:`SERVER_TCP`."""
    event.listen(engine, "connect", _set_server_tcp)
