"""A ``redcap`` / ``redcap_concussion`` source of the previous Pylantir (0.3.x-0.4.6), in the current form.

The previous Pylantir's REDCap source exported the rows of the ``mri`` repeating instrument that have an
``mri_instance``, ``mri_date`` and ``mri_time`` (and a ``study_id``), merged with the participant's
baseline row, and built each worklist entry itself:

- patient ID ``sub_<study>_ses_<mri_instance>_fam_<family>_site_<site>`` and patient name
  ``cpip-id-<study>^fa-<family>``, where ``<study>`` and ``<family>`` are what follows the last ``-`` of
  ``study_id`` and ``family_id``, and ``<study>`` starts with ``ng_`` for a participant whose ``neuro_pcp``
  is ``1`` or ``true`` (0.4.x): the plugin computes both when ``config.previous_identifiers`` is set
  (:func:`previous_identifiers`), as ``_source.previous_patient_id`` / ``_source.previous_patient_name``;
- modality ``MR``, the date and time from ``mri_date`` and ``mri_time``, the protocol ``protocol[site]``
  (or ``protocol`` itself, else ``DEFAULT_PROTOCOL``), status ``SCHEDULED``, a random Study Instance UID
  (now the row's stable ``_source.study_instance_uid``).

Its ``field_mapping`` (REDCap field -> worklist field) then set other worklist fields. An entry whose
target is no worklist field (``"study_id": "study_id"``, ``"mri_instance": "session_id"``) only asked for
the field to be exported. Values the previous Pylantir stored unchecked but DICOM cannot hold (a sex
coded ``1``, a birth year alone) are left empty instead of rejecting the exam. An entry writing a field
the previous Pylantir computed itself (``"scheduled_date": "scheduled_start_date"``) is left out: the
computed value keeps precedence, and the warning names the entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The instrument and fields that made a REDCap row an exam in the previous Pylantir.
REPEAT_INSTRUMENT = "mri"
REQUIRED_FIELDS = ["mri_instance", "mri_date", "mri_time", "study_id"]
#: The fields its identifiers read (``neuro_pcp`` only when the project has it).
IDENTIFIER_FIELDS = ["study_id", "family_id", "mri_instance", "neuro_pcp"]
DEFAULT_PROTOCOL = "DEFAULT_PROTOCOL"
#: Days after today a scanner saw of a REDCap source (``mwl_days_ahead``) when not told: today only (0.4.x).
PREVIOUS_DAYS_AHEAD = 0
#: What ``neuro_pcp`` holds for a neuro-PCP participant (compared stripped, in lower case).
NEURO_PCP_VALUES = frozenset({"1", "true"})
NEURO_PCP_PREFIX = "ng_"

#: Plain renames onto these targets keep only values DICOM can hold (the first group of the pattern).
_DICOM_ONLY = {
    "patient_sex": r"^\s*([MFOmfo])",
    "patient_birth_date": r"^\s*(\d{4}-?\d{2}-?\d{2})\s*$",
}


def previous_identifiers(row: Mapping[str, Any], site_id: str | None) -> dict[str, str] | None:
    """The previous Pylantir's patient ID and name of a merged REDCap row (``None`` without a study ID)."""
    study = _after_last_dash(row.get("study_id"))
    if not study:
        return None
    family = _after_last_dash(row.get("family_id"))
    if str(row.get("neuro_pcp") or "").strip().lower() in NEURO_PCP_VALUES and not study.startswith(NEURO_PCP_PREFIX):
        study = NEURO_PCP_PREFIX + study
    session = "" if row.get("mri_instance") is None else str(row.get("mri_instance"))
    return {
        "previous_patient_id": f"sub_{study}_ses_{session}_fam_{family}_site_{site_id}",
        "previous_patient_name": f"cpip-id-{study}^fa-{family}",
    }


def _after_last_dash(value: Any) -> str:
    return "" if value is None else str(value).split("-")[-1]


def convert(previous: Mapping[str, Any]) -> dict[str, Any]:
    """The current ``config``, ``field_mapping`` and notes of a previous REDCap source."""
    old = dict(previous.get("config") or {})
    notes: list[str] = []
    site = old.pop("site", None)
    site = old.pop("site_id", None) if site is None else site
    protocol = old.pop("protocol", None)
    config: dict[str, Any] = {
        "repeat_instrument": REPEAT_INSTRUMENT,
        "require_fields": list(REQUIRED_FIELDS),
        "fields": list(IDENTIFIER_FIELDS),
        "previous_identifiers": True,
        "unknown_fields": "warn",  # the previous Pylantir skipped fields the project lacks; now logged
    }
    if site is not None:
        config["site_id"] = str(site)
    for key in ("api_url_env", "api_token_env"):
        if key in old:
            config[key] = old.pop(key)
    given = "mwl_days_ahead" in old
    days_ahead = old.pop("mwl_days_ahead", PREVIOUS_DAYS_AHEAD)
    notes.append(f"config.mwl_days_ahead ({days_ahead}{'' if given else ', its default'}) is the source's "
                 f"visibility.days_ahead: scanners see its exams of today to today + {days_ahead}, the day "
                 "judged in the site's timezone (the previous Pylantir used the server's clock)")
    if old:
        unused = ", ".join(f"config.{key}" for key in sorted(old))
        notes.append(f"{unused}: not used by the previous Pylantir's REDCap source; left out")
    computed = _computed_fields(_protocol_name(protocol, None if site is None else str(site)))
    mapping, left_out = _user_entries(previous.get("field_mapping") or {}, computed)
    if left_out:
        notes.append("these field_mapping entries set worklist fields the previous Pylantir computed itself, "
                     f"which keeps precedence: {', '.join(left_out)}")
    return {"config": config, "field_mapping": {**computed, **mapping}, "visibility": {"days_ahead": days_ahead},
            "notes": notes}


def _protocol_name(protocol: Any, site: str | None) -> str:
    if isinstance(protocol, str):
        return protocol
    if isinstance(protocol, Mapping):
        return str(protocol.get(site or "", DEFAULT_PROTOCOL))
    return DEFAULT_PROTOCOL


def _computed_fields(protocol: str) -> dict[str, Any]:
    """What the previous Pylantir's REDCap source set itself, as ``field_mapping`` entries."""
    return {
        "patient_id": {"from": "_source.previous_patient_id"},
        "patient_name": {"from": "_source.previous_patient_name"},
        "modality": {"value": "MR"},
        "scheduled_start_date": {"from": "mri_date"},
        "scheduled_start_time": {"from": "mri_time"},
        "protocol_name": {"value": protocol},
        # the REDCap row's own UID: a rescheduled exam keeps its Study Instance UID (it was random)
        "study_instance_uid": {"from": "_source.study_instance_uid"},
    }


def _user_entries(mapping: Mapping[str, Any], computed: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    from pylantir.store.catalogue import target_names  # the worklist's fields (imported only to convert)

    columns = {target.name: target.column for target in target_names()}
    written = {columns[name] for name in computed}
    kept: dict[str, Any] = {}
    left_out: list[str] = []
    for field, target in mapping.items():
        if not isinstance(target, str):
            kept[field] = target  # already a current-format rich entry (keyed by the worklist field)
        elif target not in columns and not target.startswith("extra."):
            kept[field] = field  # not a worklist field: the previous Pylantir only exported it
        elif columns.get(target) in written:
            left_out.append(f"{field} -> {target}")
        elif columns.get(target) in _DICOM_ONLY:
            kept[target] = {"from": field, "regex": _DICOM_ONLY[columns[target]]}
        else:
            kept[field] = target
    return kept, left_out
