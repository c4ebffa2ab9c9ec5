"""A ``calpendo`` source of the previous Pylantir (0.3.x-0.4.6), in the current form.

Its ``config`` keys are this plugin's (see :mod:`pylantir_calpendo.config`) but for ``lookback_multiplier``
(the rolling window reached back that many times the sync interval plus five minutes: now
``lookback_minutes``), ``allowed_studies`` (compared with the mapped study description: now ``projects``,
when that description is the project's name) and ``field_mapping``, which sat in ``config`` keyed by the
worklist field (``"accession_number": "id"``). Besides its mapping, it set the scheduled date and time
(the booking's start in ``timezone``), the status (``Approved``/``Pending`` -> SCHEDULED, ``In Progress``
-> started, ``Completed``, ``Cancelled`` -> DISCONTINUED, any other -> SCHEDULED) and the modality
(``resource_modality_mapping``, else the resource's name) itself; mapping entries for those fields were
overwritten, so they are left out (and named in the warning).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The previous Pylantir's default time zone of a Calpendo server.
PREVIOUS_TIMEZONE = "America/Edmonton"
#: Its rolling window's default look-back, in sync intervals, and the overlap it added to the interval.
PREVIOUS_LOOKBACK_MULTIPLIER = 2
PREVIOUS_OVERLAP_SECONDS = 300
#: Booking status -> Scheduled Procedure Step Status, as the previous Pylantir mapped them.
PREVIOUS_STATUSES = {"Approved": "SCHEDULED", "Pending": "SCHEDULED", "In Progress": "STARTED",
                     "Completed": "COMPLETED", "Cancelled": "DISCONTINUED"}
_PROJECT_NAME_PATHS = ("properties.project.formattedName", "project.formattedName")
_KEPT_KEYS = ("base_url", "api_path", "resources", "status_filter", "resource_modality_mapping", "window_mode",
              "daily_window", "username_env", "password_env")


def convert(previous: Mapping[str, Any]) -> dict[str, Any]:
    """The current ``config``, ``field_mapping`` and notes of a previous Calpendo source."""
    old = dict(previous.get("config") or {})
    for key in ("window_mode", "daily_window"):  # the previous Pylantir also read them beside "config"
        if key in previous and key not in old:
            old[key] = previous[key]
    notes: list[str] = []
    config = {key: old.pop(key) for key in _KEPT_KEYS if key in old}
    config["timezone"] = old.pop("timezone", PREVIOUS_TIMEZONE)
    multiplier = old.pop("lookback_multiplier", PREVIOUS_LOOKBACK_MULTIPLIER)
    if config.get("window_mode", "rolling") == "rolling" and "daily_window" not in config:
        interval = float(previous.get("sync_interval") or 60)
        config["lookback_minutes"] = round(float(multiplier) * (interval + PREVIOUS_OVERLAP_SECONDS) / 60, 2)
    visibility = _visibility(config)
    if "all" not in visibility:
        notes.append("window_mode/daily_window also limited what scanners saw over C-FIND: now the source's "
                     "visibility (here they choose the bookings fetched)")
    if "daily_window" in visibility and _overnight(config["daily_window"]):
        notes.append("an overnight daily_window now stays visible after midnight until it ends (the previous "
                     "Pylantir showed the next night's window from midnight on)")
    mapping, left_out = _mapping(previous.get("field_mapping") or {}, bool(config.get("resource_modality_mapping")))
    studies = old.pop("allowed_studies", None)
    if studies:
        description = mapping.get("study_description") or mapping.get("requested_procedure_description") or {}
        if isinstance(description, Mapping) and description.get("from") in _PROJECT_NAME_PATHS:
            config["projects"] = [str(study).strip() for study in studies]
        else:
            notes.append("config.allowed_studies left out: it compared the mapped study description, which here "
                         "is not the project's name; filter by project with config.projects")
    if old:
        notes.append(f"config.{', config.'.join(sorted(old))}: not used by the previous Pylantir; left out")
    if left_out:
        notes.append(f"field_mapping entries left out (the previous Pylantir overwrote or ignored them): "
                     f"{', '.join(left_out)}")
    notes.append("a title the patient ID or name pattern does not match now leaves the field empty (the previous "
                 "Pylantir used the whole title), and a name without '^' is a family name (it was a given name)")
    return {"config": config, "field_mapping": mapping, "visibility": visibility, "notes": notes}


def _visibility(config: Mapping[str, Any]) -> dict[str, Any]:
    """What the previous Pylantir let scanners see of the source: a daily window or today (in the source's
    time zone), or every booking fetched (a rolling window)."""
    if config.get("daily_window"):
        return {"daily_window": config["daily_window"], "timezone": config["timezone"]}
    if config.get("window_mode") == "today":
        return {"days_ahead": 0, "timezone": config["timezone"]}
    return {"all": True}


def _overnight(window: Any) -> bool:
    try:
        return tuple(window["end_time"]) <= tuple(window["start_time"])
    except (KeyError, TypeError):
        return False


def _mapping(previous: Mapping[str, Any], with_modalities: bool) -> tuple[dict[str, Any], list[str]]:
    """Its ``"target": "source path"`` entries as ``from`` entries, plus the fields it computed itself."""
    computed: dict[str, Any] = {
        "scheduled_start_date": {"from": "_source.start_date"},
        "scheduled_start_time": {"from": "_source.start_time"},
        "scheduled_procedure_step_status": {
            "from": "status", "regex": "^(" + "|".join(PREVIOUS_STATUSES) + ")$", "map": PREVIOUS_STATUSES,
            "default": "SCHEDULED",
        },
        "modality": {"from": "_source.modality" if with_modalities else "resource.formattedName"},
    }
    from pylantir.store.catalogue import target_names  # the worklist's fields (imported only to convert)

    columns = {target.name: target.column for target in target_names()}
    mapping: dict[str, Any] = {}
    left_out: list[str] = []
    for target, spec in previous.items():
        if columns.get(target) in computed:
            left_out.append(target)
        elif target not in columns and not target.startswith("extra."):
            left_out.append(f"{target} (not a worklist field)")
        else:
            mapping[target] = {"from": spec} if isinstance(spec, str) else spec
    mapping.setdefault("study_instance_uid", {"from": "_source.study_instance_uid"})
    return {**mapping, **computed}, left_out
