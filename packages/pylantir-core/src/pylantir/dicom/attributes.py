"""Which DICOM attribute of the Modality Worklist lives in which ``WorklistItem`` column.

Two levels: the identifier's top level (patient, visit, requested procedure, imaging service request)
and the single item of the Scheduled Procedure Step Sequence (0040,0100).
"""

from __future__ import annotations

from typing import Any

from pylantir.store.models import WorklistItem

SPS_SEQUENCE = "ScheduledProcedureStepSequence"
START_DATE = "ScheduledProcedureStepStartDate"
START_TIME = "ScheduledProcedureStepStartTime"

# keyword -> WorklistItem attribute, top level of the identifier
TOP_LEVEL_COLUMNS: dict[str, str] = {
    "PatientName": "patient_name",
    "PatientID": "patient_id",
    "IssuerOfPatientID": "issuer_of_patient_id",
    "PatientBirthDate": "patient_birth_date",
    "PatientSex": "patient_sex",
    "PatientWeight": "patient_weight_kg",
    "PatientSize": "patient_size_m",
    "MedicalAlerts": "medical_alerts",
    "Allergies": "allergies",
    "AccessionNumber": "accession_number",
    "StudyInstanceUID": "study_instance_uid",
    "RequestedProcedureID": "requested_procedure_id",
    "RequestedProcedureDescription": "study_description",
    "RequestedProcedurePriority": "requested_procedure_priority",
    "ReferringPhysicianName": "referring_physician_name",
    "RequestingPhysician": "requesting_physician",
}

# keyword -> WorklistItem attribute, inside the Scheduled Procedure Step Sequence item
SPS_COLUMNS: dict[str, str] = {
    "ScheduledStationAETitle": "scheduled_station_aetitle",
    START_DATE: "scheduled_start_date",
    START_TIME: "scheduled_start_time",
    "Modality": "modality",
    "ScheduledPerformingPhysicianName": "performing_physician",
    "ScheduledProcedureStepDescription": "procedure_description",
    "ScheduledStationName": "station_name",
    "ScheduledProcedureStepLocation": "scheduled_procedure_step_location",
    "ScheduledProcedureStepID": "scheduled_procedure_step_id",
    "ScheduledProcedureStepStatus": "performed_procedure_step_status",
}

# Numeric columns are returned, never matched (DS matching is not defined by Annex K).
NOT_MATCHED = frozenset({"PatientWeight", "PatientSize"})

# Code sequences built from columns: keyword -> (code value, coding scheme designator, code meaning)
TOP_LEVEL_CODES: dict[str, tuple[str, str, str]] = {
    "RequestedProcedureCodeSequence": (
        "requested_procedure_code_value",
        "requested_procedure_code_scheme",
        "requested_procedure_code_meaning",
    ),
}
SPS_CODES: dict[str, tuple[str, str, str]] = {
    "ScheduledProtocolCodeSequence": ("protocol_name", "hisris_coding_designator", "protocol_name"),
}


def column_value(item: WorklistItem, columns: dict[str, str], keyword: str) -> Any:
    """The stored value of ``keyword`` at one level: a column, else ``extra_attributes``, else None."""
    if keyword in columns:
        return getattr(item, columns[keyword])
    return (item.extra_attributes or {}).get(keyword)
