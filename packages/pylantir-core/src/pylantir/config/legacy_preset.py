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

#: What follows the last ``-`` (all of it when there is none): the previous Pylantir's
#: ``value.split('-')[-1]``, so ``CPIP-1001`` gives ``1001``.
_AFTER_LAST_DASH = r"([^-]*)$"

#: The previous Pylantir copied ``demo_sex`` as it was; the worklist now accepts only DICOM values, so a
#: value starting with M, F or O (``M``, ``female``...) is kept as that letter and a numeric REDCap code is
#: left empty rather than guessed: add a ``map`` for the project's codes when migrating.
_DICOM_SEX = r"^\s*([MFOmfo])"

LEGACY_REDCAP_PRESET: dict[str, Any] = {
    "patient_id": {
        "template": "sub_{study_id}_ses_{mri_instance}_fam_{family_id}_site_" + SITE_PLACEHOLDER,
        "extract": {"study_id": _AFTER_LAST_DASH, "family_id": _AFTER_LAST_DASH},
    },
    "patient_name": {
        "template": "cpip-id-{study_id}^fa-{family_id}",
        "extract": {"study_id": _AFTER_LAST_DASH, "family_id": _AFTER_LAST_DASH},
    },
    "patient_birth_date": {"template": "{youth_dob_y}0101"},
    "patient_sex": {"from": "demo_sex", "regex": _DICOM_SEX},
    "modality": {"value": "MR"},
    "scheduled_start_date": {"from": "mri_date"},
    "scheduled_start_time": {"from": "mri_time"},
    "study_description": {"value": "CPIP"},
    # The REDCap row's own UID (pylantir-redcap): a rescheduled exam keeps its Study Instance UID.
    "study_instance_uid": {"from": "_source.study_instance_uid"},
}

#: Fields of the ``mri`` instrument a REDCap row must have to become a worklist entry.
LEGACY_REQUIRED_FIELDS = ["mri_instance", "mri_date", "mri_time"]
