"""DICOMweb (PS3.18): the Modality Scheduled Procedure Step and Modality Performed Procedure Step services.

Under ``/dicomweb`` (docs/conformance.md, "DICOMweb"):

- ``GET /dicomweb/modality-scheduled-procedure-steps``: the Search Transaction (PS3.18 14.4). The query
  parameters become a C-FIND identifier (:mod:`pylantir.dicomweb.search`) answered by C-FIND's own matching
  and response code, so both faces give the same matches and attributes.
- ``POST /dicomweb/modality-performed-procedure-steps/{uid}``: Create (15.4); with ``?update`` (or at
  ``.../{uid}/update``): Update (15.5); ``GET`` the same resource: Retrieve (15.6). The decisions are those of
  N-CREATE and N-SET (:func:`pylantir.dicom.mpps.create_step`, :func:`~pylantir.dicom.mpps.update_step`).

Searching needs the read role; creating and updating MPPS the write role, and, when ``http.dicomweb.mpps_clients``
is set, being one of the listed clients (the HTTP counterpart of ``server.allowed_aets``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from fastapi import APIRouter, HTTPException, Request, Response
from pydicom import Dataset
from pydicom.uid import UID
from sqlalchemy import Select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from pylantir import audit
from pylantir.dicom.failures import log_failure
from pylantir.dicom.find import matching_responses
from pylantir.dicom.matching import InvalidIdentifier, MatchSettings, build_query
from pylantir.dicom.mpps import (
    DUPLICATE_SOP_INSTANCE,
    INVALID_ATTRIBUTE_VALUE,
    NO_LONGER_UPDATABLE,
    NO_SUCH_OBJECT_INSTANCE,
    MppsError,
    create_step,
    read_step,
    update_step,
)
from pylantir.dicom.responses import RequestPlan
from pylantir.dicomweb.payload import (
    DICOM_JSON,
    DICOM_XML,
    MULTIPART_XML,
    BadPayload,
    UnsupportedPayload,
    multipart_related,
    native_xml,
    negotiate,
    read_dataset,
)
from pylantir.dicomweb.search import ALL, INCLUDEFIELD, BadSearch, Search, attribute_path, parse_search
from pylantir.http.auth import Principal, Reader, Writer
from pylantir.http.services import Services, ServicesDep
from pylantir.store import WorklistItem
from pylantir.writeback.outbox import WriteBackRecorder

log = logging.getLogger(__name__)

router = APIRouter(prefix="/dicomweb", tags=["dicomweb"])

SCHEDULED_STEPS = "/modality-scheduled-procedure-steps"
PERFORMED_STEP = "/modality-performed-procedure-steps/{uid}"
#: What the Search Transaction answers in (PS3.18 Table 14.1.3-1), in the order offered to ``*/*``.
SEARCH_MEDIA = (DICOM_JSON, MULTIPART_XML)
#: What the Retrieve Transaction answers in (one dataset).
RETRIEVE_MEDIA = (DICOM_JSON, DICOM_XML, MULTIPART_XML)
MORE_RESULTS = "There are additional results that can be requested."
T = TypeVar("T")


def _service(request: Request) -> str:
    """The Warning header's agent: the origin server's base URI (PS3.18 8.3.4.2)."""
    return f"{str(request.base_url).rstrip('/')}{router.prefix}"


def _warn(response: Response, request: Request, texts: list[str]) -> Response:
    for text in texts:
        response.headers.append("Warning", f"299 {_service(request)}: {text}")
    return response


def _media(request: Request, offered: tuple[str, ...]) -> str:
    """The media type to answer in, by the Accept header (406 when it accepts none of ``offered``)."""
    media = negotiate(request.headers.get("accept"), offered)
    if media is None:
        raise HTTPException(406, f"Accept: none of the offered media types is acceptable ({', '.join(offered)})")
    return media


def _datasets_response(datasets: list[Dataset], media: str) -> Response:
    """``datasets`` in ``media``: a JSON array of the DICOM JSON model, or one Native DICOM Model XML part each."""
    if media == DICOM_JSON:
        body = json.dumps([dataset.to_json_dict() for dataset in datasets], ensure_ascii=False).encode()
        return Response(body, media_type=DICOM_JSON)
    if media == DICOM_XML:
        return Response(native_xml(datasets[0]), media_type=DICOM_XML)
    body, content_type = multipart_related([native_xml(dataset) for dataset in datasets], DICOM_XML)
    return Response(body, headers={"Content-Type": content_type})


@router.get(SCHEDULED_STEPS)
def search_scheduled_procedure_steps(request: Request, who: Reader, services: ServicesDep) -> Response:
    """Search Transaction of the Modality Scheduled Procedure Step service (PS3.18 14.4): the worklist as a
    modality's C-FIND sees it, in the DICOM JSON model (or multipart Native DICOM Model XML).

    Query parameters: attributes by keyword or tag, dotted into sequences
    (``ScheduledProcedureStepSequence.Modality=MR``), with C-FIND's matching (wild cards, date/time ranges,
    comma-separated UID lists); ``includefield`` (or ``all``); ``limit`` and ``offset``; ``fuzzymatching``
    (not supported: a Warning says so). 200 with the matches, 204 when none, 400 naming a bad parameter,
    406 for an Accept header this service cannot answer.
    """
    started = time.perf_counter()
    media = _media(request, SEARCH_MEDIA)
    try:
        search = parse_search(request.query_params.multi_items())
        settings = MatchSettings.for_config(services.config, services.database.sql, services.clock)
        query = build_query(search.identifier, settings)
    except BadSearch as exc:
        raise HTTPException(400, str(exc)) from None
    except InvalidIdentifier as exc:
        raise HTTPException(400, f"{exc.keyword or 'a key'}: {exc}") from None
    matches = _matches(services, search, query.statement, who)
    warnings = list(search.warnings)
    if query.unmatched_keys:
        warnings.append(f"The following attributes were not used for matching: {', '.join(query.unmatched_keys)}")
    if search.limit is not None and len(matches) > search.limit:
        matches = matches[: search.limit]
        warnings.append(MORE_RESULTS)
    log.info("DICOMweb search by %s: %d match%s in %.1f ms", who.actor, len(matches),
             "" if len(matches) == 1 else "es", (time.perf_counter() - started) * 1000)
    response = _datasets_response(matches, media) if matches else Response(status_code=204)
    return _warn(response, request, warnings)


def _matches(services: Services, search: Search, statement: Select[WorklistItem], who: Principal) -> list[Dataset]:
    """The response datasets of the page ``search`` asks for (one more than ``limit``: whether more follow)."""
    statement = statement.offset(search.offset)
    if search.limit is not None:
        statement = statement.limit(search.limit + 1)  # one more: whether more can be requested
    try:
        with services.database.session() as session:
            plan = RequestPlan.of(search.identifier, search.everything)
            return [response.dataset() for response in
                    matching_responses(session, statement, plan, f"DICOMweb search by {who.actor}")]
    except SQLAlchemyError as exc:
        log_failure(log, logging.ERROR, exc, "DICOMweb search by %s failed", who.actor)
        raise HTTPException(503, "the worklist database cannot be read now") from None


def _mpps_error(exc: MppsError, updating: bool) -> HTTPException:
    """The HTTP status of an MPPS refusal (PS3.18 Tables 15.4.3-1, 15.5.3-1), the DIMSE status in the reason."""
    if exc.status == DUPLICATE_SOP_INSTANCE:
        status = 409
    elif exc.status == NO_SUCH_OBJECT_INSTANCE:
        status = 404
    elif exc.error_id == NO_LONGER_UPDATABLE:
        status = 409
    elif updating and exc.status != INVALID_ATTRIBUTE_VALUE:
        status = 409  # the final state needs attributes the step does not have (PS3.18 15.5.3.1)
    else:
        status = 400
    return HTTPException(status, f"{exc} (DIMSE status 0x{exc.status:04X})")


def _checked_uid(uid: str) -> str:
    if not UID(uid).is_valid:
        raise HTTPException(400, "the MPPS UID in the path is not a valid UID (PS3.5 9.1)")
    return uid


def _may_report(services: Services, who: Principal) -> None:
    """``http.dicomweb.mpps_clients``: when set, only the listed clients (``token:NAME``, ``user:NAME``) may
    create or update MPPS, as ``server.allowed_aets`` bounds the DIMSE clients."""
    allowed = services.config.http.dicomweb.mpps_clients
    if allowed is not None and who.actor not in allowed:
        log.warning("DICOMweb MPPS by %s refused: not in http.dicomweb.mpps_clients", who.actor)
        raise HTTPException(403, f"{who.actor} may not report MPPS (http.dicomweb.mpps_clients)")


async def _received(request: Request) -> Dataset:
    try:
        return read_dataset(await request.body(), request.headers.get("content-type"))
    except UnsupportedPayload as exc:
        raise HTTPException(415, str(exc)) from None
    except BadPayload as exc:
        raise HTTPException(400, str(exc)) from None


async def _run(operation: str, who: Principal, work: Callable[[], T], updating: bool) -> T:
    """Run an MPPS operation in the thread pool; its refusals and failures as HTTP errors, logged in one line."""
    try:
        return await run_in_threadpool(work)
    except MppsError as exc:
        log.warning("MPPS %s by %s refused: 0x%04X %s", operation, who.actor, exc.status, exc)
        raise _mpps_error(exc, updating) from None
    except SQLAlchemyError as exc:
        log_failure(log, logging.ERROR, exc, "MPPS %s by %s failed", operation, who.actor)
        raise HTTPException(503, "the MPPS could not be stored now") from None


def _audit(who: Principal, action: str, uid: str) -> Callable[[Session], None]:
    def record(session: Session) -> None:
        audit.record(session, actor=who.actor, action=action, target=f"mpps:{uid}", changes={},
                     remote_address=who.remote_address)

    return record


@router.post(PERFORMED_STEP, status_code=201)
async def create_performed_procedure_step(uid: str, request: Request, who: Writer,
                                          services: ServicesDep) -> Response:
    """Create Transaction of the Modality Performed Procedure Step service (PS3.18 15.4), the N-CREATE of
    DICOMweb; with the ``update`` query parameter, the Update Transaction (15.5).

    The body: one dataset in the DICOM JSON model (``application/dicom+json``) with the N-CREATE attributes of
    PS3.4 Table F.7.2-1, Performed Procedure Step Status IN PROGRESS. 201 (with ``Location``), 400 naming a
    missing or wrong attribute, 409 when the UID is in use, 403 for a client not allowed to report MPPS.
    """
    if "update" in request.query_params:
        return await update_performed_procedure_step(uid, request, who, services)
    _may_report(services, who)
    dataset = await _received(request)
    _checked_uid(uid)
    await _run("DICOMweb create", who, lambda: create_step(
        services.database, uid, dataset, who.actor, "DICOMweb create",
        record=_audit(who, "mpps.create", uid), write_back=_write_back(services)), updating=False)
    return Response(status_code=201, headers={"Location": str(request.url.remove_query_params("update"))})


@router.post(f"{PERFORMED_STEP}/update")
async def update_performed_procedure_step(uid: str, request: Request, who: Writer,
                                          services: ServicesDep) -> Response:
    """Update Transaction of the Modality Performed Procedure Step service (PS3.18 15.5), the N-SET of
    DICOMweb (also ``POST .../{uid}?update``).

    The body: the attributes to set, in the DICOM JSON model. COMPLETED and DISCONTINUED are final and need
    the end date and time and the performed series; the linked worklist items take the status. 200; 404 for
    an unknown step; 409 for a final one or a final state without its attributes; attributes an update may
    not change are ignored, named in a Warning header.
    """
    _may_report(services, who)
    modifications = await _received(request)
    update = await _run("DICOMweb update", who, lambda: update_step(
        services.database, uid, modifications, who.actor, "DICOMweb update",
        record=_audit(who, "mpps.update", uid), write_back=_write_back(services)), updating=True)
    response = Response(status_code=200)
    if update.ignored:
        _warn(response, request, [f"Attributes an update may not change were ignored: {', '.join(update.ignored)}"])
    return response


def _write_back(services: Services) -> WriteBackRecorder | None:
    """The DICOM server's recorder, so a step reported over HTTP is written back as one over DIMSE is."""
    return services.dicom.write_back if services.dicom is not None else None


@router.get(PERFORMED_STEP)
def retrieve_performed_procedure_step(uid: str, request: Request, who: Reader, services: ServicesDep) -> Response:
    """Retrieve Transaction of the Modality Performed Procedure Step service (PS3.18 15.6), the N-GET of
    DICOMweb: the step's attributes as created and updated (over DICOMweb or DIMSE), in the DICOM JSON model
    (or ``application/dicom+xml``). ``includefield`` (repeatable, comma-separated, or ``all``) narrows them
    to the attributes named. 404 for an unknown step."""
    media = _media(request, RETRIEVE_MEDIA)
    try:
        dataset = read_step(services.database, uid)
    except MppsError as exc:
        raise _mpps_error(exc, updating=False) from None
    except SQLAlchemyError as exc:
        log_failure(log, logging.ERROR, exc, "MPPS retrieve by %s failed", who.actor)
        raise HTTPException(503, "the MPPS cannot be read now") from None
    wanted = [name.strip() for value in request.query_params.getlist(INCLUDEFIELD) for name in value.split(",")]
    if wanted and wanted != [ALL]:
        dataset = _narrowed(dataset, wanted)
    return _datasets_response([dataset], media)


def _narrowed(dataset: Dataset, names: list[str]) -> Dataset:
    """The top-level attributes of ``dataset`` that ``names`` (keywords or tags) name."""
    narrowed = Dataset()
    for name in names:
        try:
            tags = attribute_path(name, INCLUDEFIELD)
        except BadSearch as exc:
            raise HTTPException(400, str(exc)) from None
        if len(tags) != 1:
            raise HTTPException(400, f"includefield: {name} is inside a sequence; name the sequence")
        tag = tags[0]
        if tag in dataset:
            narrowed[tag] = dataset[tag]
    return narrowed
