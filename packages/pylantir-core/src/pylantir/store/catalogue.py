"""The worklist's columns in DICOM terms: which Modality Worklist attribute each column holds, and where.

One table serves both readers of the schema: the DICOM server (matching and building responses, by
keyword and level) and the sync engine (the value representation each mapped value must fit).
A new ``WorklistItem`` column that modalities should see is added here once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: The identifier's top level (patient, visit, requested procedure, imaging service request).
TOP = "top"
#: The single item of the Scheduled Procedure Step Sequence (0040,0100).
SPS = "sps"
#: A component of a code sequence item (the DICOM server builds the sequences from these columns).
CODE = "code"


@dataclass(frozen=True)
class ColumnAttribute:
    """A ``WorklistItem`` column and the DICOM attribute (by keyword) whose value it stores."""

    column: str
    keyword: str
    level: Literal["top", "sps", "code"]


WORKLIST_COLUMNS: tuple[ColumnAttribute, ...] = (
    ColumnAttribute("patient_name", "PatientName", TOP),
    ColumnAttribute("patient_id", "PatientID", TOP),
    ColumnAttribute("issuer_of_patient_id", "IssuerOfPatientID", TOP),
    ColumnAttribute("patient_birth_date", "PatientBirthDate", TOP),
    ColumnAttribute("patient_sex", "PatientSex", TOP),
    ColumnAttribute("patient_weight_kg", "PatientWeight", TOP),
    ColumnAttribute("patient_size_m", "PatientSize", TOP),
    ColumnAttribute("medical_alerts", "MedicalAlerts", TOP),
    ColumnAttribute("allergies", "Allergies", TOP),
    ColumnAttribute("accession_number", "AccessionNumber", TOP),
    ColumnAttribute("study_instance_uid", "StudyInstanceUID", TOP),
    ColumnAttribute("requested_procedure_id", "RequestedProcedureID", TOP),
    ColumnAttribute("study_description", "RequestedProcedureDescription", TOP),
    ColumnAttribute("requested_procedure_priority", "RequestedProcedurePriority", TOP),
    ColumnAttribute("referring_physician_name", "ReferringPhysicianName", TOP),
    ColumnAttribute("requesting_physician", "RequestingPhysician", TOP),
    ColumnAttribute("scheduled_station_aetitle", "ScheduledStationAETitle", SPS),
    ColumnAttribute("scheduled_start_date", "ScheduledProcedureStepStartDate", SPS),
    ColumnAttribute("scheduled_start_time", "ScheduledProcedureStepStartTime", SPS),
    ColumnAttribute("modality", "Modality", SPS),
    ColumnAttribute("performing_physician", "ScheduledPerformingPhysicianName", SPS),
    ColumnAttribute("procedure_description", "ScheduledProcedureStepDescription", SPS),
    ColumnAttribute("station_name", "ScheduledStationName", SPS),
    ColumnAttribute("scheduled_procedure_step_location", "ScheduledProcedureStepLocation", SPS),
    ColumnAttribute("scheduled_procedure_step_id", "ScheduledProcedureStepID", SPS),
    ColumnAttribute("performed_procedure_step_status", "ScheduledProcedureStepStatus", SPS),
    ColumnAttribute("requested_procedure_code_value", "CodeValue", CODE),
    ColumnAttribute("requested_procedure_code_scheme", "CodingSchemeDesignator", CODE),
    ColumnAttribute("requested_procedure_code_meaning", "CodeMeaning", CODE),
    ColumnAttribute("protocol_name", "CodeMeaning", CODE),
    ColumnAttribute("hisris_coding_designator", "CodingSchemeDesignator", CODE),
)


def columns_at(level: str) -> dict[str, str]:
    """DICOM keyword -> column, for the attributes stored at ``level`` (:data:`TOP` or :data:`SPS`)."""
    return {entry.keyword: entry.column for entry in WORKLIST_COLUMNS if entry.level == level}
