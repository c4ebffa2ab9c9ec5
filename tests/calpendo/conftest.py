"""A fake Calpendo on 127.0.0.1 speaking its query API as the plugin calls it, and fixtures around it.

One server speaks one flavour: Calpendo 11+ under ``/api`` (title, status and ``dateRange`` inside
``properties``, date-times in ISO 8601 UTC) or a legacy server under ``/webdav`` (title and status at the
top level, the date range in ``formattedName`` in server-local time). Both answer

- ``GET <prefix>/q/<type>/<EXPR>[?paths=...]``, with ``EXPR`` in Calpendo's prefix notation
  (``AND|OR/<EXPR>/.../CLOSE`` or ``<path>/<EQ|NE|LT|LE|GT|GE>/<value>``, a trailing ``CLOSE`` optional)
  over ``id``, ``dateRange.start`` (``YYYYMMDD-HHMM``, server-local), ``resource.name``, ``status`` and
  ``project.name``; type ``Calpendo.Booking`` gives the matching IDs, ``MRIScan`` with
  ``paths=Operator.name`` an MRI booking's operator;
- ``GET <prefix>/b/Calpendo.Booking/<id>``: one booking (404 when unknown or in ``vanished``).

Every request needs HTTP basic auth with ``USER``/``PASSWORD`` (else 401). ``fail_next`` replaces the
next answers; ``delay`` slows every answer down. Request paths (decoded) are kept in ``requests``.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

import pytest

from pylantir import FetchState
from pylantir.plugins import PluginRegistry
from pylantir.testing import load_distribution

USER = "mwl-reader"
PASSWORD = "Pw-9f3c1e77aa-never-logged"
RESOURCE, EEG = "3T Diagnostic", "EEG Lab"
_BOOLEAN = {"AND": all, "OR": any}
_RELATIONS: dict[str, Callable[[Any, Any], bool]] = {
    "EQ": lambda a, b: a == b, "NE": lambda a, b: a != b, "LT": lambda a, b: a < b,
    "LE": lambda a, b: a <= b, "GT": lambda a, b: a > b, "GE": lambda a, b: a >= b,
}


@dataclass
class FakeBooking:
    """One booking; ``start``/``end`` are aware. ``patch`` is merged into its rendered details."""

    id: int
    title: str
    start: datetime
    end: datetime
    resource: str = RESOURCE
    status: str = "Approved"
    project: str = "BRISKP"
    biskit_type: str = "MRIScan"
    operator: str | None = None
    patch: dict[str, Any] = field(default_factory=dict)


class QueryError(ValueError):
    """A condition the fake cannot read: answered 400, as Calpendo does."""


class FakeCalpendo(ThreadingHTTPServer):
    """The HTTP server; ``url`` is the base URL, ``prefix`` the API path of its flavour."""

    daemon_threads = True

    def __init__(self, flavour: str, timezone: str):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.prefix = {"api": "/api", "webdav": "/webdav"}[flavour]
        self.zone = ZoneInfo(timezone)
        self.bookings: dict[int, FakeBooking] = {}
        self.vanished: set[int] = set()
        self.requests: list[str] = []
        self.faults: list[tuple[int, str, str]] = []
        self.delay = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def add(self, title: str, start: datetime, minutes: int = 60, **details: Any) -> FakeBooking:
        """Add a booking starting at ``start`` (aware) for ``minutes``."""
        booking = FakeBooking(1000 + len(self.bookings), title, start, start + timedelta(minutes=minutes), **details)
        self.bookings[booking.id] = booking
        return booking

    def fail_next(self, status: int, body: str = "<html>error</html>", content_type: str = "text/html",
                  times: int = 1) -> None:
        """Answer the next ``times`` authenticated requests with this instead."""
        self.faults.extend([(status, content_type, body)] * times)

    def queries(self, kind: str = "Calpendo.Booking") -> list[str]:
        """The conditions of the queries of type ``kind`` received so far."""
        marker = f"{self.prefix}/q/{kind}/"
        return [path.split(marker, 1)[1] for path in self.requests if marker in path]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout test) is expected; stay quiet."""

    # -- the API ---------------------------------------------------------------------------------

    def answer(self, raw_path: str, authorization: str | None) -> tuple[int, str, Any]:
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if authorization != expected:
            return 401, "text/html", "<html><body>401 Unauthorized</body></html>"
        parts = urlsplit(raw_path)
        segments = [unquote(segment) for segment in parts.path.split("/")[1:]]
        self.requests.append("/" + "/".join(segments))
        if self.faults:
            return self.faults.pop(0)
        if "/" + segments[0] != self.prefix or len(segments) < 3:
            return 404, "text/html", "<html><body>404 Not Found</body></html>"
        kind, biskit_type, rest = segments[1], segments[2], segments[3:]
        try:
            if kind == "b" and biskit_type == "Calpendo.Booking" and len(rest) == 1:
                return self._details(int(rest[0]))
            if kind == "q":
                return 200, "application/json", self._query(biskit_type, rest, parse_qs(parts.query))
        except QueryError as exc:
            return 400, "text/plain", f"Invalid query: {exc}"
        return 404, "text/html", "<html><body>404 Not Found</body></html>"

    def _details(self, booking_id: int) -> tuple[int, str, Any]:
        booking = self.bookings.get(booking_id)
        if booking is None or booking_id in self.vanished:
            return 404, "text/html", "<html><body>404 Not Found</body></html>"
        return 200, "application/json", self._render(booking)

    def _render(self, booking: FakeBooking) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "resource": {"id": 7, "name": booking.resource, "formattedName": booking.resource},
            "project": {"id": 9, "name": booking.project, "formattedName": f"{booking.project} (Brain study)"},
            "booker": {"id": 3, "formattedName": "Dr. Booker"},
        }
        details: dict[str, Any] = {"id": booking.id, "biskitType": booking.biskit_type, "properties": properties}
        if self.prefix == "/api":
            iso = "%Y-%m-%dT%H:%M:%S.000Z"
            properties.update(title=booking.title, status=booking.status, dateRange={
                "start": booking.start.astimezone(UTC).strftime(iso),
                "finish": booking.end.astimezone(UTC).strftime(iso)})
            details["formattedName"] = f"Booking {booking.id}"
        else:
            local = "%Y-%m-%d %H:%M:%S.0"
            details.update(title=booking.title, status=booking.status, formattedName=(
                f"[{booking.start.astimezone(self.zone).strftime(local)}, "
                f"{booking.end.astimezone(self.zone).strftime(local)}]"))
        return _merged(details, booking.patch)

    def _query(self, biskit_type: str, expression: list[str], params: dict[str, list[str]]) -> dict[str, Any]:
        tokens = list(expression)
        condition = self._condition(tokens) if tokens else (lambda _booking: True)
        if tokens:
            raise QueryError(f"unexpected {'/'.join(tokens)} after the condition")
        if biskit_type == "Calpendo.Booking":
            return {"biskits": [{"id": b.id, "biskitType": b.biskit_type} for b in self.bookings.values()
                                if condition(b)]}
        if biskit_type != "MRIScan":
            raise QueryError(f"unknown biskit type {biskit_type}")
        paths = ",".join(params.get("paths", [])).split(",")
        return {"biskits": [
            {"id": b.id, "properties": {"Operator": {"name": b.operator} if b.operator else None}}
            if "Operator.name" in paths else {"id": b.id}
            for b in self.bookings.values() if b.biskit_type == "MRIScan" and condition(b)
        ]}

    def _condition(self, tokens: list[str]) -> Callable[[FakeBooking], bool]:
        """Parse (consuming) one ``EXPR`` from the front of ``tokens``."""
        token = tokens.pop(0)
        if token in _BOOLEAN:
            children = []
            while tokens and tokens[0] != "CLOSE":
                children.append(self._condition(tokens))
            if tokens:
                tokens.pop(0)
            combine = _BOOLEAN[token]
            return lambda booking: combine(child(booking) for child in children)
        if len(tokens) < 2 or tokens[0] not in _RELATIONS:
            raise QueryError("/".join([token, *tokens[:2]]))
        relation, value = tokens.pop(0), tokens.pop(0)
        read = self._reader(token)
        wanted = self._stamp(value) if token == "dateRange.start" else value
        return lambda booking: _RELATIONS[relation](read(booking), wanted)

    def _reader(self, path: str) -> Callable[[FakeBooking], Any]:
        readers: dict[str, Callable[[FakeBooking], Any]] = {
            "id": lambda b: str(b.id), "resource.name": lambda b: b.resource, "status": lambda b: b.status,
            "project.name": lambda b: b.project,
            "dateRange.start": lambda b: b.start.astimezone(self.zone).replace(tzinfo=None, second=0, microsecond=0),
        }
        if path not in readers:
            raise QueryError(f"unknown path {path}")
        return readers[path]

    def _stamp(self, value: str) -> datetime:
        try:
            return datetime.strptime(value, "%Y%m%d-%H%M")
        except ValueError:
            raise QueryError(f"bad date {value}") from None


def _merged(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in patch.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


class _Handler(BaseHTTPRequestHandler):
    server: FakeCalpendo

    def do_GET(self) -> None:
        status, content_type, body = self.server.answer(self.path, self.headers.get("Authorization"))
        if self.server.delay:
            time.sleep(self.server.delay)
        text = body if isinstance(body, str) else json.dumps(body)
        self.send_response(status)
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="Calpendo"')
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(text.encode())))
        self.end_headers()
        self.wfile.write(text.encode())

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture
def serve(http_servers: Callable[[FakeCalpendo], FakeCalpendo],
          monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakeCalpendo]:
    """``serve(flavour="api", timezone=...)``: start a fake Calpendo and set the credential variables."""

    def start(flavour: str = "api", timezone: str = "America/Edmonton") -> FakeCalpendo:
        server = http_servers(FakeCalpendo(flavour, timezone))
        monkeypatch.setenv("CALPENDO_USERNAME", USER)
        monkeypatch.setenv("CALPENDO_PASSWORD", PASSWORD)
        return server

    return start


@pytest.fixture
def mapping() -> dict[str, Any]:
    """A ``field_mapping`` for the fake's bookings: ``SUB001_Jane^Doe`` is patient ``SUB001``, ``Jane^Doe``."""
    return {
        "patient_id": {"from": "title", "regex": "^([A-Z0-9]+)_"},
        "patient_name": {"from": "title", "regex": "^[A-Z0-9]+_(.+)$"},
        "accession_number": {"from": "_source.booking_id"},
        "study_instance_uid": {"from": "_source.study_instance_uid"},
        "scheduled_start_date": {"from": "_source.start_date"},
        "scheduled_start_time": {"from": "_source.start_time"},
        "modality": {"from": "_source.modality"},
        "performing_physician": {"from": "_source.operator"},
        "requested_procedure_description": {"from": "project.formattedName", "regex": "^([^(]+?)\\s*\\("},
    }


@pytest.fixture
def config_for() -> Callable[..., dict[str, Any]]:
    """``config_for(server, **keys)``: a ``calpendo`` config for ``server`` (one resource, its time zone)."""

    def build(server: FakeCalpendo, **overrides: Any) -> dict[str, Any]:
        return {"base_url": server.url, "api_path": server.prefix, "resources": [RESOURCE],
                "timezone": str(server.zone), **overrides}

    return build


@pytest.fixture
def registry() -> PluginRegistry:
    """A registry holding only the installed pylantir-calpendo distribution, found by its entry point."""
    return load_distribution("pylantir-calpendo")[0]


@pytest.fixture
def fetch(registry: PluginRegistry) -> Callable[..., list[Any]]:
    """``fetch(config)``: validate (no errors allowed), then run the plugin's fetch through the registry."""

    def run(config: dict[str, Any], state: FetchState | None = None) -> list[Any]:
        problems = [p for p in registry.validate_config("calpendo", config) if p.severity == "error"]
        assert not problems, problems
        return list(registry.fetch_entries("calpendo", "scanners", config, frozenset(), state or FetchState()))

    return run
