"""The Modality Worklist C-FIND handler: match in SQL, stream one Pending per item, honour C-CANCEL.

Statuses: FF00 per match (FF01 when a key carrying a value was not used for matching), FE00 after a
C-CANCEL, A900 for an identifier that cannot be decoded or holds an invalid key (with the offending
element), C001 when the database fails. Failures carry no identifier; pynetdicom sends the final Success
itself. Each C-FIND is logged in one INFO line (calling AE, matches, milliseconds); a refusal in one WARNING
line naming the element and the reason, never a value. A match whose stored values cannot be encoded is
left out with a WARNING naming the item's id and the attribute (docs/conformance.md 2.5).

On the little-endian transfer syntaxes the pending responses are encoded here and queued as bytes
(:mod:`pylantir.dicom.pending`); on the others they are yielded as datasets for pynetdicom to encode.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

from pydicom import Dataset
from pynetdicom.events import Event
from sqlalchemy import Select
from sqlalchemy.orm import Session

from pylantir.dicom.decoding import describe_tag
from pylantir.dicom.failures import log_failure
from pylantir.dicom.keys import read_identifier
from pylantir.dicom.matching import InvalidIdentifier, MatchSettings, build_query
from pylantir.dicom.pending import PendingResponses
from pylantir.dicom.responses import RequestPlan, Response, UnencodableValue, build_response
from pylantir.store import Database, WorklistItem

log = logging.getLogger(__name__)

PENDING = 0xFF00
PENDING_WARNING = 0xFF01
CANCEL = 0xFE00
IDENTIFIER_DOES_NOT_MATCH = 0xA900
UNABLE_TO_PROCESS = 0xC001
YIELD_PER = 100

FindResult = tuple[int | Dataset, Dataset | None]


def _failure(code: int, comment: str, offending: int | None = None) -> FindResult:
    status = Dataset()
    status.Status = code
    status.ErrorComment = comment[:64]
    if offending is not None:
        status.OffendingElement = [offending]
    return status, None


def _milliseconds(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def matching_responses(
    session: Session, statement: Select[WorklistItem], plan: RequestPlan, requestor: str,
    encode: Callable[[Response], bytes] | None = None,
) -> Iterator[tuple[Response, bytes | None]]:
    """The response (:func:`build_response`) of each item ``statement`` selects, in its order, with its
    encoding by ``encode`` (None without one).

    Every front end that answers a worklist query (C-FIND, DICOMweb's search) reads its matches here. An item
    whose stored values cannot be built or encoded is left out with a WARNING naming it and the attribute,
    prefixed by ``requestor`` (``C-FIND from MR1``): one bad row never ends the answer.
    """
    for item in session.scalars(statement.execution_options(yield_per=YIELD_PER)):
        try:
            response = build_response(item, plan)
            encoded = encode(response) if encode is not None else None
        except UnencodableValue as exc:
            log.warning("%s: worklist item id %s (source %s) left out: %s", requestor, item.id, item.source_name,
                        exc)
            continue
        yield response, encoded


def make_find_handler(database: Database, settings: MatchSettings) -> Callable[[Event], Iterator[FindResult]]:
    """The ``evt.EVT_C_FIND`` handler answering from ``database`` with ``settings``."""

    def handle_find(event: Event) -> Iterator[FindResult]:
        """Answer one C-FIND request (a generator of (status, identifier) pairs)."""
        started = time.perf_counter()
        requestor = event.assoc.requestor.ae_title
        try:
            identifier = read_identifier(event)
            query = build_query(identifier, settings)
        except InvalidIdentifier as exc:
            element = exc.keyword or (describe_tag(exc.tag) if exc.tag is not None else "identifier")
            log.warning("C-FIND from %s refused (A900): %s: %s", requestor, element, exc)
            log.debug("C-FIND refusal of %s", requestor, exc_info=exc)
            yield _failure(IDENTIFIER_DOES_NOT_MATCH, f"{element}: {exc}", exc.tag)
            return
        except Exception as exc:  # noqa: BLE001 - answered C001; a bug of ours, logged without values
            log_failure(log, logging.ERROR, exc, "C-FIND from %s: the identifier cannot be turned into a query",
                        requestor)
            yield _failure(UNABLE_TO_PROCESS, "identifier cannot be processed")
            return
        status = PENDING_WARNING if query.unmatched_keys else PENDING
        plan = RequestPlan.of(identifier)
        sender = PendingResponses.for_event(event, status)
        matches = 0
        try:
            with database.session() as session:
                encode = sender.encode if sender is not None else None
                for response, encoded in matching_responses(session, query.statement, plan,
                                                            f"C-FIND from {requestor}", encode):
                    if event.is_cancelled:
                        log.info("C-FIND from %s: cancelled after %d matches, %.1f ms", requestor, matches,
                                 _milliseconds(started))
                        yield CANCEL, None
                        return
                    if not event.assoc.is_established:
                        return  # aborted or released by the peer: nobody to answer
                    matches += 1
                    if sender is not None and encoded is not None:
                        sender.send(encoded)
                    else:
                        yield status, response.dataset()
        except Exception as exc:  # noqa: BLE001 - answered C001 (database down, locked, ...)
            log_failure(log, logging.ERROR, exc, "C-FIND from %s failed after %d matches", requestor, matches)
            yield _failure(UNABLE_TO_PROCESS, "worklist database error")
            return
        unmatched = f" (not used for matching: {', '.join(query.unmatched_keys)})" if query.unmatched_keys else ""
        log.info("C-FIND from %s: %d match%s in %.1f ms%s", requestor, matches, "" if matches == 1 else "es",
                 _milliseconds(started), unmatched)

    return handle_find
