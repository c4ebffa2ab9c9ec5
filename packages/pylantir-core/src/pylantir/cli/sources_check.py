"""``pylantir sources check``: validate configured sources through their plugins, and try a fetch.

Nothing is written: the database is not opened and the DICOM server is not started.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pylantir.cli.context import CliContext, config_option, configured_source, load_config_or_exit, pass_cli
from pylantir.cli.output import print_table
from pylantir.contract import SourceError
from pylantir.plugins import PluginBugError, PluginRegistry

if TYPE_CHECKING:
    from pylantir.config import DataSourceSettings

#: Entry columns shown in the table, in this order, when at least one entry has a value there.
TABLE_COLUMNS = (
    "patient_id", "patient_name", "patient_birth_date", "patient_sex", "accession_number", "modality",
    "scheduled_station_aetitle", "scheduled_start_date", "scheduled_start_time", "procedure_description",
)


@dataclass
class SourceReport:
    """What was found for one configured source (the JSON output is a list of these)."""

    source: str
    type: str
    plugin: str | None = None
    problems: list[dict[str, str]] = field(default_factory=list)
    fetched: int | None = None
    entries: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, str | None]] = field(default_factory=list)
    error: str | None = None

    @property
    def failed(self) -> bool:
        """Config errors or a failed fetch (rejected rows alone do not fail the check)."""
        return self.error is not None or any(p["severity"] == "error" for p in self.problems)

    def problem(self, path: str, message: str, severity: str = "error") -> None:
        self.problems.append({"path": path, "severity": severity, "message": message})


@click.command("check")
@config_option
@click.option("--source", "source_name", metavar="NAME", help="Check only this configured source.")
@click.option("--fetch", is_flag=True, help="Also fetch once and show the mapped entries and rejected rows, and "
              "check a write_back block against the source system (fields, rights).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@pass_cli
def check_sources(cli_ctx: CliContext, config_path: Path, source_name: str | None, fetch: bool, as_json: bool) -> None:
    """Validate every configured source through its plugin; with --fetch, fetch and map once.

    Exits 1 when a source's config has errors or its fetch fails (3 in strict mode when a plugin is
    broken). Rejected rows are listed with their reasons but do not fail the check. Nothing is
    written to the database and the DICOM server is not started.
    """
    config = load_config_or_exit(config_path)
    if source_name is not None:
        configured_source(config_path, config, source_name)
    selected = [(i, s) for i, s in enumerate(config.data_sources) if source_name is None or s.name == source_name]
    registry = cli_ctx.registry(Path(config.plugins_dir) if config.plugins_dir else None)
    reports = [_check(registry, index, source, fetch, config.timezone) for index, source in selected]
    if as_json:
        click.echo(json.dumps([asdict(r) for r in reports], indent=2, default=str))
    else:
        for report in reports:
            _print(report)
    cli_ctx.enforce_strict_plugins()
    if any(r.failed for r in reports):
        raise SystemExit(1)


def _check(registry: PluginRegistry, index: int, source: DataSourceSettings, fetch: bool,
           timezone: str) -> SourceReport:
    from pylantir.sync.checks import source_problems

    report = SourceReport(source.name, source.type)
    if source.type in registry.source_types():
        report.plugin = registry.owner(source.type, source.name).label
    for problem in source_problems(registry, index, source):
        report.problem(problem.path, problem.message, problem.severity)
    if fetch and not report.failed:
        _fetch(registry, source, timezone, report)
    if fetch and not report.failed and source.write_back is not None:
        _check_write_back(registry, source, report)
    return report


def _check_write_back(registry: PluginRegistry, source: DataSourceSettings, report: SourceReport) -> None:
    assert source.write_back is not None  # checked by the caller
    try:
        problems = registry.check_write_back(source.type, source.name, source.config, source.write_back.config)
    except (SourceError, PluginBugError) as exc:
        report.problem("write_back", str(exc))
        return
    for problem in problems:
        report.problem(f"write_back.config.{problem.path}".rstrip("."), problem.message, problem.severity)


def _fetch(registry: PluginRegistry, source: DataSourceSettings, timezone: str, report: SourceReport) -> None:
    from pylantir.preview import preview_source

    try:
        preview = preview_source(registry, source, timezone)
    except (SourceError, PluginBugError) as exc:
        report.error = str(exc)
        return
    report.fetched = preview.fetched
    report.entries = [{column: value for column, value in e.items() if value is not None} for e in preview.entries]
    report.rejected = [{"location": r.location, "field": r.field, "reason": r.reason} for r in preview.rejected]


def _print(report: SourceReport) -> None:
    status = "FAILED" if report.failed else "ok"
    click.echo(f"source {report.source} (type {report.type}, plugin {report.plugin or 'none'}): {status}")
    if report.problems:
        print_table(["path", "severity", "problem"], [list(p.values()) for p in report.problems], empty="")
    if report.error:
        click.echo(f"fetch failed: {report.error}")
    if report.fetched is None:
        return
    columns = [c for c in TABLE_COLUMNS if any(e.get(c) not in (None, "") for e in report.entries)]
    print_table(columns, [[e.get(c) for c in columns] for e in report.entries], empty="no entries")
    if report.rejected:
        print_table(["rejected", "field", "reason"], [list(r.values()) for r in report.rejected], empty="")
    click.echo(f"fetched {report.fetched}: {len(report.entries)} entries, {len(report.rejected)} rejected")
