"""load_config on current-format files: valid files, each class of error, all errors together."""

from __future__ import annotations

from pathlib import Path

import pytest

from pylantir.config import ConfigError, PylantirConfig, load_config

VALID = {
    "server": {"ae_title": "MWL", "port": 4104, "allowed_aets": ["MR1"]},
    "database_url": "sqlite:///worklist.sqlite",
    "timezone": "America/Edmonton",
    "plugins_dir": "plugins",
    "data_sources": [
        {
            "name": "site_a",
            "type": "csv",
            "sync_interval": 30,
            "operation_interval": {"start_time": [22, 0], "end_time": [6, 0]},
            "config": {"file_path": "/data/a.csv"},
            "field_mapping": {"dob": "patient_birth_date", "patient_id": {"template": "sub_{id}"}},
        },
        {"name": "site_b", "type": "json", "enabled": False},
    ],
}


def problems_of(write_config, content) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(content))
    return caught.value.problems


def test_valid_file_loads_with_defaults(write_config, monkeypatch):
    monkeypatch.delenv("PYLANTIR_DATABASE_URL", raising=False)
    path = write_config(VALID)
    config = load_config(path)
    assert isinstance(config, PylantirConfig)
    assert config.server.ae_title == "MWL" and config.server.host == "127.0.0.1"
    assert config.timezone == "America/Edmonton"
    assert [s.name for s in config.data_sources] == ["site_a", "site_b"]
    assert [s.name for s in config.enabled_sources()] == ["site_a"]
    site_a = config.data_sources[0]
    assert site_a.operation_interval.start_time == (22, 0)  # a window across midnight is fine
    assert site_a.field_mapping["patient_id"] == {"template": "sub_{id}"}
    assert config.data_sources[1].sync_interval == 60
    assert config.database_url == "sqlite:///worklist.sqlite"


def test_relative_plugins_dir_is_relative_to_the_file(write_config):
    path = write_config(VALID)
    assert load_config(path).plugins_dir == str(path.parent / "plugins")


def test_database_url_environment_variable_wins(write_config, monkeypatch):
    monkeypatch.setenv("PYLANTIR_DATABASE_URL", "postgresql+psycopg2://pylantir@db/worklist")
    assert load_config(write_config(VALID)).database_url == "postgresql+psycopg2://pylantir@db/worklist"


def test_invalid_database_url_environment_variable(write_config, monkeypatch):
    monkeypatch.setenv("PYLANTIR_DATABASE_URL", "user:secret@db")
    problems = problems_of(write_config, VALID)
    assert problems == [
        "PYLANTIR_DATABASE_URL (environment variable): not a database URL; use e.g. "
        "sqlite:///path/to/worklist.sqlite or postgresql+psycopg2://user@host/dbname"
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"server": {"port": "abc"}}, "server.port: Input should be a valid integer"),
        ({"server": {"port": 70000}}, "server.port: Input should be less than or equal to 65535"),
        ({"sever": {}}, "sever: unknown key; did you mean 'server'?"),
        ({"server": {"ae_titel": "X"}}, "server.ae_titel: unknown key; did you mean 'ae_title'?"),
        ({"server": {"tls": {"certificate": "c"}}}, "server.tls.private_key: required"),
        ({"timezone": "Mars/Olympus"}, "timezone: unknown time zone 'Mars/Olympus'"),
        ({"database_url": "worklist.sqlite"}, "database_url: not a database URL; use e.g. sqlite:///"),
        ({"data_sources": [{"type": "csv"}]}, "data_sources.0.name: required"),
        ({"data_sources": [{"name": "bad name!", "type": "csv"}]}, "data_sources.0.name: String should match"),
        ({"data_sources": [{"name": "a", "type": "csv", "sync_interval": 0}]}, "data_sources.0.sync_interval:"),
        (
            {"data_sources": [{"name": "a", "type": "csv", "operation_interval": {"end_time": [24, 0]}}]},
            "data_sources.0.operation_interval.end_time: must be [hour, minute]",
        ),
        (
            {"data_sources": [{"name": "a", "type": "csv", "confg": {}}]},
            "data_sources.0.confg: unknown key; did you mean 'config'?",
        ),
        (
            {"data_sources": [{"name": "a", "type": "csv"}, {"name": "a", "type": "json"}]},
            "data_sources.1.name: duplicate source name 'a' (also data_sources.0)",
        ),
        (
            {"data_sources": [{"name": "manual", "type": "csv"}]},
            "data_sources.0.name: 'manual' is the built-in source of entries added over HTTP",
        ),
        ({"http": {"cors_allowed_origins": ["example.org/app"]}},
         "http.cors_allowed_origins: 'example.org/app' is not an origin"),
        ({"http": {"open_endpoints": ["worklist"]}}, "http.open_endpoints.0: Input should be 'health', 'ready'"),
        ({"db_path": "x.db", "server": {}}, "server: belongs to the current format, but the file also has the "
                                            "previous Pylantir's 'db_path'"),
        ([1, 2], "(top level): must be a JSON object, not list"),
    ],
)
def test_each_error_names_its_location(write_config, content, expected):
    problems = problems_of(write_config, content)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems


def test_invalid_json_reports_line_and_column(write_config):
    problems = problems_of(write_config, '{\n  "server": {\n    "port": 4104,\n  }\n}\n')
    assert problems == ["invalid JSON at line 4, column 3: Expecting property name enclosed in double quotes"]


def test_keys_written_twice_are_errors(write_config):
    text = '{"server": {"port": 4104, "port": 4105}, "data_sources": [{"name": "a", "type": "csv", "type": "json"}]}'
    assert problems_of(write_config, text) == [
        "server.port: written more than once in the same object; keep one",
        "data_sources.0.type: written more than once in the same object; keep one",
    ]


def test_missing_file(tmp_path: Path):
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.json")
    assert caught.value.path == str(tmp_path / "nope.json")
    assert caught.value.problems == ["cannot read the file: No such file or directory"]


def test_all_errors_of_a_file_are_reported_together(write_config):
    problems = problems_of(
        write_config,
        {
            "server": {"port": 0, "colour": "blue"},
            "timezone": "Nowhere",
            "data_sources": [
                {"name": "a", "type": "csv", "sync_interval": -5},
                {"name": "a", "type": ""},
            ],
        },
    )
    locations = [problem.split(":")[0] for problem in problems]
    assert sorted(locations) == sorted(
        [
            "server.port",
            "server.colour",
            "timezone",
            "data_sources.0.sync_interval",
            "data_sources.1.type",
            "data_sources.1.name",
        ]
    )


def test_error_message_names_the_file(write_config):
    path = write_config({"sever": {}})
    with pytest.raises(ConfigError, match=f"^{path}: sever: unknown key"):
        load_config(path)


def test_relative_paths_start_at_the_files_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("PYLANTIR_DATABASE_URL", raising=False)
    site = tmp_path / "site"
    site.mkdir()
    path = site / "pylantir.json"
    path.write_text(
        '{"database_url": "sqlite:///data/w.sqlite", "plugins_dir": "plugins",'
        ' "server": {"tls": {"certificate": "tls/server.pem", "private_key": "/etc/tls/server.key",'
        ' "ca_certificates": "tls/ca.pem"}},'
        ' "data_sources": [{"name": "a", "type": "csv"}]}'
    )
    monkeypatch.chdir(tmp_path)
    config = load_config(Path("site/pylantir.json"))
    assert config.config_dir == site
    assert config.resolved_database_url() == f"sqlite:///{site / 'data' / 'w.sqlite'}"
    assert config.plugins_dir == str(site / "plugins")
    assert config.server.tls is not None
    assert (config.server.tls.certificate, config.server.tls.private_key, config.server.tls.ca_certificates) == (
        str(site / "tls" / "server.pem"), "/etc/tls/server.key", str(site / "tls" / "ca.pem"))
    assert config.data_sources[0].config_dir == site


@pytest.mark.parametrize("url", ["sqlite:////var/lib/pylantir/w.sqlite", "sqlite://", "postgresql://db/worklist"])
def test_other_database_urls_are_kept(tmp_path, url):
    path = tmp_path / "pylantir.json"
    path.write_text(f'{{"database_url": "{url}"}}')
    assert load_config(path).resolved_database_url() == url


@pytest.mark.parametrize("url", [
    "sqlite:///worklist.sqlite", "sqlite://", "sqlite:///:memory:", "sqlite:///C:\\data\\worklist.sqlite",
    "postgresql+psycopg2://user:pa%40ss@db.example:5432/pylantir?sslmode=require", "postgresql://user@[::1]:5432/db",
    "postgresql://db:0099/x", "postgresql://db: 5/x", "worklist.sqlite", "sqlite:/worklist.sqlite", "://x", "",
    "postgresql://db:abc/x", "postgresql://db:/x", "post-gres://db/x", "user:secret@db",
])
def test_a_database_url_is_accepted_exactly_when_sqlalchemy_parses_it(url):
    """The check does not import SQLAlchemy (start-up of ``config check``): it must agree with ``make_url``."""
    from sqlalchemy.engine import make_url

    from pylantir.config.models import check_database_url

    try:
        make_url(url)
    except Exception:  # ArgumentError, or ValueError for a port that is no integer
        with pytest.raises(ValueError, match="not a database URL"):
            check_database_url(url)
    else:
        check_database_url(url)
