"""A fake REDCap API on 127.0.0.1 speaking the API the way PyCap calls it, and fixtures around it.

The server answers ``POST /api/`` form requests: ``content=version|project|metadata|record`` with
``format=json``, ``type=flat``, ``fields[n]``, ``events[n]``, ``records[n]``, ``filterLogic`` (only
``[field] = 'v'`` and ``[field] <> ''`` terms joined by ``and``), ``dateRangeBegin``/``dateRangeEnd`` (on
each record's modification time, in the server's wall-clock time) and ``exportDataAccessGroups``; and record
imports (``content=record`` with ``data``, ``format=json``, ``overwriteBehavior=normal``), which REDCap
applies all or nothing: an unknown field or a value that is not one of a coded field's choices refuses the
whole import with a 400; a record, event or instance that does not exist is created, as REDCap does. A
wrong token gets REDCap's 403 JSON error, and so does an import when ``import_rights`` is off. ``fault``
replaces the next answers (status, body); ``failures`` answers the next N imports with a 503; ``delay``
slows every answer down. Every request's form is kept in ``requests``, every applied import's rows in
``imported``, for assertions.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from pylantir import FetchState
from pylantir.plugins import PluginRegistry
from pylantir.testing import load_distribution

TOKEN = "0123456789ABCDEF0123456789ABCDEF"
DENIED = {"error": "You do not have permissions to use the API"}
_TERM = re.compile(r"""^\s*\[(\w+)\]\s*(=|<>)\s*(['"])(.*?)\3\s*$""")


def field_def(name: str, form: str, field_type: str = "text", choices: str = "") -> dict[str, str]:
    """One row of a REDCap data dictionary (content=metadata), with the keys the plugin reads."""
    return {
        "field_name": name,
        "form_name": form,
        "field_type": field_type,
        "field_label": name,
        "select_choices_or_calculations": choices,
    }


@dataclass
class FakeProject:
    """A REDCap project's data dictionary and flat rows (rows hold only the fields that have values)."""

    metadata: list[dict[str, str]]
    rows: list[dict[str, Any]]
    events: list[str] = field(default_factory=list)
    repeating: bool = False
    modified: dict[str, datetime] = field(default_factory=dict)

    @property
    def id_field(self) -> str:
        return self.metadata[0]["field_name"]

    def touch(self, record_id: str, when: datetime) -> None:
        """Set a record's last modification time (server wall clock)."""
        self.modified[record_id] = when


class FakeRedcap(ThreadingHTTPServer):
    """The HTTP server; ``url`` is the API URL to put in ``REDCAP_API_URL``."""

    daemon_threads = True

    def __init__(self, project: FakeProject):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.project = project
        self.requests: list[dict[str, Any]] = []
        self.fault: tuple[int, str] | None = None
        self.delay = 0.0
        self.import_rights = True
        self.failures = 0
        self.imported: list[list[dict[str, Any]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/"

    def records_requests(self) -> list[dict[str, Any]]:
        """The forms of the ``content=record`` requests received so far."""
        return [form for form in self.requests if form.get("content") == "record"]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout test) is expected; stay quiet."""

    # -- the API ---------------------------------------------------------------------------------

    def answer(self, path: str, form: dict[str, Any]) -> tuple[int, Any]:
        if path != "/api/":
            return 404, "<html><body>Not Found</body></html>"
        if form.get("token") != TOKEN:
            return 403, DENIED
        self.requests.append(form)
        if self.fault is not None:
            return self.fault
        content = form.get("content")
        if content == "version":
            return 200, "14.5.0"
        if content == "project":
            return 200, {"project_id": 1, "is_longitudinal": int(bool(self.project.events))}
        if content == "metadata":
            return 200, self.project.metadata
        if content == "record" and "data" in form:
            return self._import(form)
        if content == "record":
            return self._records(form)
        return 400, {"error": f"The value of the parameter \"content\" ({content}) is not valid"}

    def _records(self, form: dict[str, Any]) -> tuple[int, Any]:
        project = self.project
        known = {m["field_name"] for m in project.metadata} | {
            f"{m['form_name']}_complete" for m in project.metadata
        }
        fields = form.get("fields") or [m["field_name"] for m in project.metadata]
        bad = [name for name in fields if name not in known]
        if bad:
            return 400, {"error": f"The following values in the parameter \"fields\" are not valid: '{bad[0]}'"}
        events = form.get("events") or []
        if any(event not in project.events for event in events):
            return 400, {"error": "The following values in the parameter \"events\" are not valid"}
        try:
            keep = self._record_filter(form)
        except ValueError as exc:
            return 400, {"error": str(exc)}
        out = []
        for row in project.rows:
            if keep(row) and (not events or row.get("redcap_event_name") in events):
                out.append(self._flat(row, fields, form.get("exportDataAccessGroups") in ("True", "true")))
        return 200, out

    def _import(self, form: dict[str, Any]) -> tuple[int, Any]:
        if not self.import_rights:
            return 403, {"error": "You do not have API Import/Update privileges"}
        if self.failures:
            self.failures -= 1
            return 503, "<html><body>Service Unavailable</body></html>"
        if form.get("format") != "json" or form.get("overwriteBehavior") != "normal":
            return 400, {"error": "this fake accepts format=json and overwriteBehavior=normal imports only"}
        rows = json.loads(form["data"])
        targets = []
        for row in rows:
            target, error = self._import_target(row)
            if error:
                return 400, {"error": error}
            targets.append(target)
        for row, target in zip(rows, targets, strict=True):
            target.update({k: v for k, v in row.items() if not k.startswith("redcap_") and v != ""})
        self.imported.append(rows)
        return 200, {"count": len({str(row[self.project.id_field]) for row in rows})}

    def _import_target(self, row: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """The stored row an import row updates, or REDCap's error for it."""
        project = self.project
        fields = {m["field_name"]: m for m in project.metadata}
        record = str(row.get(project.id_field, ""))
        for name, value in row.items():
            if name.startswith("redcap_") or name == project.id_field:
                continue
            if name not in fields:
                return {}, f"The following fields were not found in the project as real data fields: {name}"
            field = fields[name]
            if field["field_type"] in ("radio", "dropdown"):
                codes = [c.split(",")[0].strip() for c in field["select_choices_or_calculations"].split("|")]
                if str(value) not in codes:
                    return {}, f'"{record}","{name}","{value}","The value is not a valid category for {name}"'
        def place(values: dict[str, Any]) -> tuple[str, ...]:
            return tuple(str(values.get(key) or "") for key in (
                project.id_field, "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance"))

        for stored in project.rows:
            if place(stored) == place(row):
                return stored, None
        created = {key: row[key] for key in (project.id_field, "redcap_event_name", "redcap_repeat_instrument",
                                             "redcap_repeat_instance") if key in row}
        project.rows.append(created)  # REDCap creates what an import names and does not exist
        return created, None

    def _record_filter(self, form: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
        project = self.project
        begin = _server_time(form.get("dateRangeBegin"))
        end = _server_time(form.get("dateRangeEnd"))
        terms = [_parse_term(term) for term in re.split(r"\band\b", form.get("filterLogic") or "") if term.strip()]
        wanted = set(form.get("records") or [])
        matching = {
            str(row[project.id_field])
            for row in project.rows
            if all((str(row.get(name, "")) == value) == (op == "=") for name, op, value in terms)
            and (not wanted or str(row[project.id_field]) in wanted)
        }

        def keep(row: dict[str, Any]) -> bool:
            record_id = str(row[project.id_field])
            changed = project.modified.get(record_id, datetime(2000, 1, 1))
            return (
                record_id in matching
                and (begin is None or changed >= begin)
                and (end is None or changed <= end)
            )

        return keep

    def _flat(self, row: dict[str, Any], fields: list[str], with_dag: bool) -> dict[str, Any]:
        project = self.project
        flat: dict[str, Any] = {project.id_field: row[project.id_field]}
        if project.events:
            flat["redcap_event_name"] = row.get("redcap_event_name", "")
        if project.repeating:
            flat["redcap_repeat_instrument"] = row.get("redcap_repeat_instrument", "")
            flat["redcap_repeat_instance"] = row.get("redcap_repeat_instance", "")
        checkboxes = {m["field_name"]: m for m in project.metadata if m["field_type"] == "checkbox"}
        for name in fields:
            if name in checkboxes:
                for choice in checkboxes[name]["select_choices_or_calculations"].split("|"):
                    option = f"{name}___{choice.split(',')[0].strip()}"
                    flat[option] = row.get(option, "0")
            else:
                flat.setdefault(name, row.get(name, ""))
        if with_dag:
            flat["redcap_data_access_group"] = row.get("redcap_data_access_group", "")
        return flat


def _server_time(value: str | None) -> datetime | None:
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S") if value else None


def _parse_term(term: str) -> tuple[str, str, str]:
    match = _TERM.match(term)
    if not match:
        raise ValueError(f"The filterLogic parameter is not valid: {term.strip()}")
    return match.group(1), match.group(2), match.group(4)


class _Handler(BaseHTTPRequestHandler):
    server: FakeRedcap

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
        form: dict[str, Any] = {}
        for key, values in raw.items():
            list_key = re.match(r"^(\w+)\[\d+\]$", key)
            if list_key:
                form.setdefault(list_key.group(1), []).extend(values)
            else:
                form[key] = values[0]
        status, body = self.server.answer(self.path, form)
        if self.server.delay:
            time.sleep(self.server.delay)
        text = body if isinstance(body, str) else json.dumps(body)
        self.send_response(status)
        self.send_header("Content-Type", "text/html" if isinstance(body, str) else "application/json")
        self.send_header("Content-Length", str(len(text.encode())))
        self.end_headers()
        self.wfile.write(text.encode())

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""


# -- the projects ----------------------------------------------------------------------------------


def classic_project() -> FakeProject:
    """A classic (non-longitudinal) project, one row per participant, a site field and a checkbox."""
    metadata = [
        field_def("record_id", "enrolment"),
        field_def("name", "enrolment"),
        field_def("dob", "enrolment", "text"),
        field_def("sex", "enrolment", "radio", "1, Female | 2, Male"),
        field_def("site", "enrolment"),
        field_def("consent", "enrolment", "checkbox", "1, Imaging | 2, Genetics"),
        field_def("scan_date", "scan", "text"),
        field_def("scan_time", "scan", "text"),
    ]
    rows = [
        {"record_id": "1", "name": "Doe, Jane", "dob": "1990-01-31", "sex": "1", "site": "A",
         "consent___1": "1", "consent___2": "0", "scan_date": "2026-01-31", "scan_time": "14:30"},
        {"record_id": "2", "name": "Roe, Rick", "dob": "1985-06-01", "sex": "2", "site": "B",
         "consent___1": "1", "consent___2": "1", "scan_date": "2026-02-01", "scan_time": "09:00"},
        {"record_id": "3", "name": "Poe, Pat", "dob": "2001-12-12", "sex": "2", "site": "A",
         "consent___1": "0", "consent___2": "0", "scan_date": "", "scan_time": ""},
    ]
    return FakeProject(metadata, rows)


def longitudinal_project() -> FakeProject:
    """A longitudinal project like the previous Pylantir's: baseline per event plus a repeating ``mri``."""
    metadata = [
        field_def("record_id", "enrolment"),
        field_def("study_id", "enrolment"),
        field_def("family_id", "enrolment"),
        field_def("youth_dob_y", "enrolment"),
        field_def("demo_sex", "enrolment", "radio", "1, Female | 2, Male"),
        field_def("visit_weight", "visit"),
        field_def("mri_instance", "mri"),
        field_def("mri_date", "mri"),
        field_def("mri_time", "mri"),
    ]
    base = {"redcap_repeat_instrument": "", "redcap_repeat_instance": ""}
    rows = [
        {"record_id": "1", "redcap_event_name": "t1_arm_1", **base, "study_id": "CPIP-1001",
         "family_id": "FAM-501", "youth_dob_y": "2012", "demo_sex": "1", "visit_weight": "40"},
        {"record_id": "1", "redcap_event_name": "t1_arm_1", "redcap_repeat_instrument": "mri",
         "redcap_repeat_instance": 1, "mri_instance": "1", "mri_date": "2026-01-31", "mri_time": "14:30"},
        {"record_id": "1", "redcap_event_name": "t2_arm_1", **base, "visit_weight": "45"},
        {"record_id": "1", "redcap_event_name": "t2_arm_1", "redcap_repeat_instrument": "mri",
         "redcap_repeat_instance": 1, "mri_instance": "2", "mri_date": "2026-07-31", "mri_time": "08:15"},
        {"record_id": "1", "redcap_event_name": "t2_arm_1", "redcap_repeat_instrument": "mri",
         "redcap_repeat_instance": 2, "mri_instance": "3", "mri_date": "", "mri_time": ""},
        {"record_id": "2", "redcap_event_name": "t1_arm_2", **base, "study_id": "CPIP-1002",
         "family_id": "FAM-502", "youth_dob_y": "2013", "demo_sex": "2"},
        {"record_id": "2", "redcap_event_name": "t1_arm_2", "redcap_repeat_instrument": "mri",
         "redcap_repeat_instance": 1, "mri_instance": "1", "mri_date": "2026-02-02", "mri_time": "10:00"},
    ]
    return FakeProject(metadata, rows, events=["t1_arm_1", "t2_arm_1", "t1_arm_2"], repeating=True)


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture
def serve(http_servers: Callable[[FakeRedcap], FakeRedcap],
          monkeypatch: pytest.MonkeyPatch) -> Callable[[FakeProject], FakeRedcap]:
    """Start a fake REDCap for a project and point REDCAP_API_URL / REDCAP_API_TOKEN at it."""

    def start(project: FakeProject) -> FakeRedcap:
        server = http_servers(FakeRedcap(project))
        monkeypatch.setenv("REDCAP_API_URL", server.url)
        monkeypatch.setenv("REDCAP_API_TOKEN", TOKEN)
        return server

    return start


@pytest.fixture
def token() -> str:
    """The API token the fake server accepts (what REDCAP_API_TOKEN is set to)."""
    return TOKEN


@pytest.fixture
def registry() -> PluginRegistry:
    """A registry holding only the installed pylantir-redcap distribution, found by its entry point."""
    return load_distribution("pylantir-redcap")[0]


@pytest.fixture
def fetch(registry: PluginRegistry) -> Callable[..., list[Any]]:
    """``fetch(config, fields, state=None)``: run the plugin's fetch through the registry, as a list."""

    def run(config: dict[str, Any], fields: set[str], state: FetchState | None = None) -> list[Any]:
        problems = [p for p in registry.validate_config("redcap", config) if p.severity == "error"]
        assert not problems, problems
        entries = registry.fetch_entries("redcap", "study", config, frozenset(fields), state or FetchState())
        return list(entries)

    return run


@pytest.fixture
def classic() -> FakeProject:
    """A fresh classic project (tests may change its rows)."""
    return classic_project()


@pytest.fixture
def longitudinal() -> FakeProject:
    """A fresh longitudinal project with a repeating ``mri`` instrument."""
    return longitudinal_project()
