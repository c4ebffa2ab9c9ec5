"""The previous Pylantir's REDCap identifiers, as data in the ``field_mapping`` syntax.

The previous Pylantir built these worklist values in code from every REDCap record of the ``mri``
repeating instrument. A converted legacy configuration (see :mod:`pylantir.config.legacy`) starts from
this preset, so that existing sites keep the same patient IDs and names. ``{site}`` is replaced by the
legacy file's ``site`` during conversion; every other placeholder is a REDCap field.
"""

from __future__ import annotations

from typing import Any

#: Placeholder replaced by the legacy ``site`` value when the preset is applied.
SITE_PLACEHOLDER = "{site}"

_LAST_DIGITS = r"(\d+)\D*$"

LEGACY_REDCAP_PRESET: dict[str, Any] = {
    "patient_id": {
        "template": "sub_{study_id}_ses_{mri_instance}_fam_{family_id}_site_" + SITE_PLACEHOLDER,
        "extract": {"study_id": _LAST_DIGITS, "family_id": _LAST_DIGITS},
    },
    "patient_name": {
        "template": "cpip-id-{study_id}^fa-{family_id}",
        "extract": {"study_id": _LAST_DIGITS, "family_id": _LAST_DIGITS},
    },
    "patient_birth_date": {"template": "{youth_dob_y}0101"},
    "patient_sex": {"from": "demo_sex"},
    "modality": {"value": "MR"},
    "scheduled_start_date": {"from": "mri_date"},
    "scheduled_start_time": {"from": "mri_time"},
    "study_description": {"value": "CPIP"},
}

#: Fields of the ``mri`` instrument a REDCap row must have to become a worklist entry.
LEGACY_REQUIRED_FIELDS = ["mri_instance", "mri_date", "mri_time"]
