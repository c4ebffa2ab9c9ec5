"""Modality Performed Procedure Step SCP (PS3.4 Annex F.7): N-CREATE / N-SET, persisted in the database.

State machine IN PROGRESS -> COMPLETED | DISCONTINUED (both final). Instances live in
``PerformedProcedureStep`` (attributes as DICOM JSON, character set converted to UTF-8), so a restart between
N-CREATE and N-SET loses nothing. Each instance is linked to the worklist items it performs through the
Scheduled Step Attributes Sequence (Study Instance UID, Accession Number, Requested Procedure ID, SPS ID);
linked items get the matching Scheduled Procedure Step Status and ``status_from_mpps``. An MPPS that links
to no item (unscheduled) is recorded all the same. A status change of an item whose source writes back is
recorded in the write-back outbox in the same transaction (:mod:`pylantir.writeback.outbox`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from pydicom import Dataset
from pydicom.datadict import keyword_for_tag, tag_for_keyword
from pydicom.uid import generate_uid
from pynetdicom.dimse_primitives import N_CREATE, N_SET
from pynetdicom.events import Event
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pylantir import metrics
from pylantir.dicom.decoding import UndecodableDataset, decode_received, describe_tag
from pylantir.dicom.failures import log_failure
from pylantir.store import Database, PerformedProcedureStep, WorklistItem
from pylantir.writeback.outbox import WriteBackRecorder

log = logging.getLogger(__name__)

SUCCESS = 0x0000
INVALID_ATTRIBUTE_VALUE = 0x0106
PROCESSING_FAILURE = 0x0110
DUPLICATE_SOP_INSTANCE = 0x0111
NO_SUCH_OBJECT_INSTANCE = 0x0112
MISSING_ATTRIBUTE = 0x0120
MISSING_ATTRIBUTE_VALUE = 0x0121
#: Error ID of 0110 for an update of a COMPLETED or DISCONTINUED step (PS3.4 F.7.2.2.4).
NO_LONGER_UPDATABLE = 0xA710

IN_PROGRESS, COMPLETED, DISCONTINUED = "IN PROGRESS", "COMPLETED", "DISCONTINUED"
# PPS status -> Scheduled Procedure Step Status written to the linked worklist items
WORKLIST_STATUS = {IN_PROGRESS: "STARTED", COMPLETED: "COMPLETED", DISCONTINUED: "DISCONTINUED"}
SSA = "ScheduledStepAttributesSequence"
SERIES = "PerformedSeriesSequence"

# Table F.7.2-1, N-CREATE requirements (SCU/SCP): Type 1 must be present with a value, Type 2 present.
CREATE_TYPE1 = (
    SSA, "PerformedProcedureStepID", "PerformedStationAETitle", "PerformedProcedureStepStartDate",
    "PerformedProcedureStepStartTime", "PerformedProcedureStepStatus", "Modality",
)
CREATE_TYPE2 = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "ReferencedPatientSequence",
    "PerformedStationName", "PerformedLocation", "PerformedProcedureStepDescription",
    "PerformedProcedureTypeDescription", "ProcedureCodeSequence", "PerformedProcedureStepEndDate",
    "PerformedProcedureStepEndTime", "StudyID", "PerformedProtocolCodeSequence", SERIES,
)
SSA_TYPE1 = ("StudyInstanceUID",)
SSA_TYPE2 = (
    "AccessionNumber", "RequestedProcedureID", "RequestedProcedureDescription", "ScheduledProcedureStepID",
    "ScheduledProcedureStepDescription", "ScheduledProtocolCodeSequence", "ReferencedStudySequence",
)
# Final state (COMPLETED / DISCONTINUED): Type 1 at the top level and in each Performed Series item.
FINAL_TYPE1 = ("PerformedProcedureStepEndDate", "PerformedProcedureStepEndTime", SERIES)
SERIES_TYPE1 = ("SeriesInstanceUID", "ProtocolName")
SERIES_TYPE2 = ("ReferencedImageSequence", "ReferencedNonImageCompositeSOPInstanceSequence")
# "Not allowed" in N-SET (Table F.7.2-1): ignored, the stored value is kept.
NOT_SETTABLE = frozenset({
    "SpecificCharacterSet", "PatientName", "PatientID", "PatientBirthDate", "PatientSex",
    "ReferencedPatientSequence", "IssuerOfPatientID", SSA, "PerformedProcedureStepID", "PerformedStationAETitle",
    "PerformedStationName", "PerformedLocation", "PerformedProcedureStepStartDate",
    "PerformedProcedureStepStartTime", "Modality", "StudyID",
})

Result = tuple[int | Dataset, Dataset | None]
#: Work a front end adds to an MPPS change's transaction (its audit entry).
Record = Callable[[Session], None]


class MppsError(Exception):
    """A refused request: the status code, a comment and, for N-SET, the offending attribute."""

    def __init__(self, status: int, comment: str, keyword: str | None = None, error_id: int | None = None):
        super().__init__(comment)
        self.status, self.keyword, self.error_id = status, keyword, error_id

    def as_status(self, with_attribute_list: bool) -> Dataset:
        """The status dataset pynetdicom puts in the response (Error Comment, Error ID, attribute list)."""
        status = Dataset()
        status.Status = self.status
        status.ErrorComment = str(self)[:64]
        if self.error_id is not None:
            status.ErrorID = self.error_id
        if with_attribute_list and self.keyword:
            status.AttributeIdentifierList = [tag_for_keyword(self.keyword)]
        return status


def _received(event: Event, parameter: str, what: str) -> Dataset:
    """The request's ``parameter`` decoded whole, else 0106 naming the element at fault (nothing is stored)."""
    try:
        return decode_received(event, parameter)
    except UndecodableDataset as exc:
        where = f" at {describe_tag(exc.tag)}" if exc.tag is not None else ""
        raise MppsError(INVALID_ATTRIBUTE_VALUE, f"{what} cannot be decoded{where}: {exc}",
                        keyword_for_tag(exc.tag) if exc.tag is not None else None) from exc


def check_present(dataset: Dataset, type1: Iterable[str], type2: Iterable[str], where: str = "") -> None:
    """Raise 0120 for a missing Type 1/2 attribute, 0121 for an empty Type 1 one."""
    for keyword in (*type1, *type2):
        if keyword not in dataset:
            raise MppsError(MISSING_ATTRIBUTE, f"{where}{keyword} missing", keyword)
    for keyword in type1:
        value = dataset[keyword].value
        if value is None or value == "" or (dataset[keyword].VR == "SQ" and len(value) == 0):
            raise MppsError(MISSING_ATTRIBUTE_VALUE, f"{where}{keyword} empty", keyword)


def check_final(dataset: Dataset) -> None:
    """A COMPLETED / DISCONTINUED step needs its end date/time and at least one performed series."""
    check_present(dataset, FINAL_TYPE1, ())
    for index, series in enumerate(dataset[SERIES].value, start=1):
        check_present(series, SERIES_TYPE1, SERIES_TYPE2, f"{SERIES} item {index}: ")


def _status_of(dataset: Dataset) -> str:
    return str(dataset.get("PerformedProcedureStepStatus", "") or "").strip().upper()


def _to_json(dataset: Dataset) -> dict[str, Any]:
    stored = Dataset()
    stored.update(dataset)
    if "SpecificCharacterSet" in stored:
        del stored.SpecificCharacterSet
    return stored.to_json_dict()


def _from_json(attributes: dict[str, Any]) -> Dataset:
    dataset = Dataset.from_json(attributes)
    dataset.SpecificCharacterSet = "ISO_IR 192"
    return dataset


def linked_items(session: Session, dataset: Dataset) -> list[WorklistItem]:
    """The worklist items an MPPS performs: one query per Scheduled Step Attributes item (group case)."""
    found: dict[int, WorklistItem] = {}
    for step in dataset.get(SSA) or []:
        study_uid = str(step.get("StudyInstanceUID") or "")
        accession = str(step.get("AccessionNumber") or "")
        if not study_uid and not accession:
            continue
        statement = select(WorklistItem)
        for keyword, column in (
            ("StudyInstanceUID", WorklistItem.study_instance_uid),
            ("AccessionNumber", WorklistItem.accession_number),
            ("RequestedProcedureID", WorklistItem.requested_procedure_id),
            ("ScheduledProcedureStepID", WorklistItem.scheduled_procedure_step_id),
        ):
            value = str(step.get(keyword) or "")
            if value:
                # An ID the item does not store was answered with a fallback: it does not exclude the item.
                statement = statement.where(column == value if keyword == "StudyInstanceUID"
                                            else or_(column == value, column.is_(None)))
        for item in session.scalars(statement):
            found[item.id] = item
    return list(found.values())


def _update_worklist(items: list[WorklistItem], pps_status: str) -> None:
    for item in items:
        item.scheduled_procedure_step_status = WORKLIST_STATUS[pps_status]
        item.status_from_mpps = True
        item.updated_at = datetime.now(UTC)


@dataclass(frozen=True)
class StepUpdate:
    """What an update did: the step's status after it, the attributes applied, those ignored (not settable)."""

    status: str
    applied: Dataset
    ignored: list[str]


def create_step(database: Database, uid: str, dataset: Dataset, requestor: str, operation: str,
                calling_ae_title: str | None = None, record: Record | None = None,
                write_back: WriteBackRecorder | None = None) -> None:
    """Create the MPPS instance ``uid`` IN PROGRESS from ``dataset`` and mark its linked worklist items STARTED.

    One implementation for every front end (N-CREATE, DICOMweb's Create): raises :class:`MppsError` with the
    DIMSE status of a refusal (missing or empty attribute, wrong status, duplicate instance). ``requestor``
    (an AE title, an HTTP actor) and ``operation`` (``N-CREATE``, ...) name the request in the log line;
    ``record`` (an audit entry, say) runs in the same transaction, and so does ``write_back``'s recording of
    the linked items' change.
    """
    recorded = 0
    check_present(dataset, CREATE_TYPE1, CREATE_TYPE2)
    for index, step in enumerate(dataset[SSA].value, start=1):
        check_present(step, SSA_TYPE1, SSA_TYPE2, f"{SSA} item {index}: ")
    if _status_of(dataset) != IN_PROGRESS:
        raise MppsError(INVALID_ATTRIBUTE_VALUE, "PerformedProcedureStepStatus must be IN PROGRESS",
                        "PerformedProcedureStepStatus")
    try:
        with database.session() as session:
            if session.get(PerformedProcedureStep, uid) is not None:
                raise MppsError(DUPLICATE_SOP_INSTANCE, "SOP Instance UID already exists")
            items = linked_items(session, dataset)
            session.add(PerformedProcedureStep(
                sop_instance_uid=uid, status=IN_PROGRESS, worklist_item_id=items[0].id if items else None,
                calling_ae_title=calling_ae_title, attributes=_to_json(dataset),
            ))
            _update_worklist(items, IN_PROGRESS)
            if write_back is not None:
                recorded = write_back.record(session, items, dataset, IN_PROGRESS, WORKLIST_STATUS[IN_PROGRESS], uid)
            if record is not None:
                record(session)
    except IntegrityError as exc:
        raise MppsError(DUPLICATE_SOP_INSTANCE, "SOP Instance UID already exists") from exc
    if write_back is not None:
        write_back.committed(recorded)
    log.info("MPPS %s from %s: %s IN PROGRESS, %s", uid, requestor, operation,
             f"{len(items)} worklist item(s)" if items else "unscheduled")


def update_step(database: Database, uid: str, modifications: Dataset, requestor: str, operation: str,
                record: Record | None = None, write_back: WriteBackRecorder | None = None) -> StepUpdate:
    """Apply ``modifications`` to the IN PROGRESS instance ``uid``; COMPLETED / DISCONTINUED are final and
    reach the linked worklist items.

    One implementation for every front end (N-SET, DICOMweb's Update): raises :class:`MppsError` for an
    unknown instance (0112), a final one (0110, Error ID A710), an unknown status or an incomplete final
    state. Attributes an update may not change (Table F.7.2-1) are ignored and listed in the result.
    ``record`` runs in the same transaction, and so does ``write_back``'s recording of a final status.
    """
    linked: list[WorklistItem] = []
    recorded = 0
    with database.session() as session:
        instance = session.get(PerformedProcedureStep, uid, with_for_update=True)
        if instance is None:
            raise MppsError(NO_SUCH_OBJECT_INSTANCE, "no such MPPS instance")
        if instance.status != IN_PROGRESS:
            raise MppsError(PROCESSING_FAILURE, "Performed Procedure Step Object may no longer be updated",
                            error_id=NO_LONGER_UPDATABLE)
        stored = _from_json(instance.attributes)
        applied = Dataset()
        ignored: list[str] = []
        for element in modifications:
            if element.keyword in NOT_SETTABLE:
                if element.keyword != "SpecificCharacterSet":
                    ignored.append(element.keyword)
                continue
            stored[element.tag] = element
            applied[element.tag] = element
        new_status = _status_of(stored)
        if new_status not in WORKLIST_STATUS:
            raise MppsError(INVALID_ATTRIBUTE_VALUE, "PerformedProcedureStepStatus is not a known status",
                            "PerformedProcedureStepStatus")
        if new_status != IN_PROGRESS:
            check_final(stored)
            linked = linked_items(session, stored)
            _update_worklist(linked, new_status)
            if write_back is not None:
                recorded = write_back.record(session, linked, stored, new_status, WORKLIST_STATUS[new_status], uid)
        instance.status = new_status
        instance.attributes = _to_json(stored)
        instance.updated_at = datetime.now(UTC)
        if record is not None:
            record(session)
    if write_back is not None:
        write_back.committed(recorded)
    log.info("MPPS %s from %s: %s %s, %s", uid, requestor, operation, new_status,
             f"{len(linked)} worklist item(s)" if new_status != IN_PROGRESS else "attributes updated")
    return StepUpdate(new_status, applied, ignored)


def read_step(database: Database, uid: str) -> Dataset:
    """The stored attributes of the MPPS instance ``uid`` (raises :class:`MppsError` 0112 when unknown)."""
    with database.session() as session:
        instance = session.get(PerformedProcedureStep, uid)
        if instance is None:
            raise MppsError(NO_SUCH_OBJECT_INSTANCE, "no such MPPS instance")
        return _from_json(instance.attributes)


class MppsHandlers:
    """``EVT_N_CREATE`` and ``EVT_N_SET`` handlers over one database (the DIMSE face of the functions above).

    :param write_back: the sources that write back and whom to tell of a change (none: nothing is recorded).
    """

    def __init__(self, database: Database, write_back: WriteBackRecorder | None = None):
        self.database = database
        self.write_back = write_back

    def handle_create(self, event: Event) -> Result:
        """N-CREATE: validate, store the instance IN PROGRESS and mark the linked worklist items STARTED."""
        return self._answer(event, "N-CREATE", self._create, with_attribute_list=False)

    def handle_set(self, event: Event) -> Result:
        """N-SET: update an IN PROGRESS instance; COMPLETED / DISCONTINUED are final and reach the worklist."""
        return self._answer(event, "N-SET", self._set, with_attribute_list=True)

    @staticmethod
    def _answer(event: Event, operation: str, handler: Callable[[Event], Result], with_attribute_list: bool) -> Result:
        """Run ``handler``; a refusal or any failure is answered with its status and logged in one line."""
        requestor = event.assoc.requestor.ae_title
        try:
            result = handler(event)
        except MppsError as exc:
            log.warning("MPPS %s from %s refused: 0x%04X %s", operation, requestor, exc.status, exc)
            metrics.MPPS_EVENTS.labels(operation, "refused").inc()
            return exc.as_status(with_attribute_list), None
        except Exception as exc:  # noqa: BLE001 - answered 0110 so that the modality knows
            log_failure(log, logging.ERROR, exc, "MPPS %s from %s failed, answered 0x0110", operation, requestor)
            metrics.MPPS_EVENTS.labels(operation, "failed").inc()
            metrics.DATABASE_ERRORS.labels("mpps").inc()
            return MppsError(PROCESSING_FAILURE, "the MPPS could not be stored").as_status(False), None
        answered = result[1]
        state = answered.get("PerformedProcedureStepStatus") if answered is not None else None
        metrics.MPPS_EVENTS.labels(operation, str(state) if state else "IN PROGRESS").inc()
        return result

    def _create(self, event: Event) -> Result:
        dataset = _received(event, "AttributeList", "attribute list")
        request = cast(N_CREATE, event.request)  # the handler is bound to N-CREATE only
        uid = str(request.AffectedSOPInstanceUID or generate_uid())
        calling = event.assoc.requestor.ae_title
        create_step(self.database, uid, dataset, calling, "N-CREATE", calling_ae_title=calling,
                    write_back=self.write_back)
        response = Dataset()
        response.update(dataset)
        if not request.AffectedSOPInstanceUID:
            response.AffectedSOPInstanceUID = uid
        return SUCCESS, response

    def _set(self, event: Event) -> Result:
        uid = str(cast(N_SET, event.request).RequestedSOPInstanceUID)  # the handler is bound to N-SET only
        modifications = _received(event, "ModificationList", "modification list")
        update = update_step(self.database, uid, modifications, event.assoc.requestor.ae_title, "N-SET",
                             write_back=self.write_back)
        return SUCCESS, update.applied
