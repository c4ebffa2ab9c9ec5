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
from typing import Any, TypeVar

from pydicom import Dataset
from pynetdicom.events import Event
from sqlalchemy import Row, Select
from sqlalchemy.orm import Session

from pylantir import metrics
from pylantir.dicom.decoding import describe_tag
from pylantir.dicom.encoding import IdentifierEncoder
from pylantir.dicom.failures import log_failure
from pylantir.dicom.keys import read_identifier
from pylantir.dicom.matching import InvalidIdentifier, MatchSettings, build_query
from pylantir.dicom.pending import PendingResponses
from pylantir.dicom.responses import RequestPlan, Response, UnencodableValue, build_response
from pylantir.store import Database, WorklistItem
from pylantir.store.queries import answer_rows

log = logging.getLogger(__name__)

PENDING = 0xFF00
PENDING_WARNING = 0xFF01
CANCEL = 0xFE00
IDENTIFIER_DOES_NOT_MATCH = 0xA900
UNABLE_TO_PROCESS = 0xC001
YIELD_PER = 100

FindResult = tuple[int | Dataset, Dataset | None]
T = TypeVar("T")


def _failure(code: int, comment: str, offending: int | None = None) -> FindResult:
    status = Dataset()
    status.Status = code
    status.ErrorComment = comment[:64]
    if offending is not None:
        status.OffendingElement = [offending]
    return status, None


def _milliseconds(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _count(requestor: str, outcome: str, started: float, matches: int = 0) -> None:
    """The C-FIND's metrics (:mod:`pylantir.metrics`): request, duration and matches by calling AE title."""
    ae = metrics.ae_label(requestor)
    metrics.CFIND_REQUESTS.labels(ae, outcome).inc()
    metrics.CFIND_SECONDS.labels(ae, outcome).observe(time.perf_counter() - started)
    if matches:
        metrics.CFIND_MATCHES.labels(ae).inc(matches)


def _answers(session: Session, statement: Select[WorklistItem], requestor: str,
             answer: Callable[[Row[Any]], T]) -> Iterator[T]:
    for row in answer_rows(session, statement, YIELD_PER):
        try:
            yield answer(row)
        except UnencodableValue as exc:
            log.warning("%s: worklist item id %s (source %s) left out: %s", requestor, row.id, row.source_name, exc)


def matching_responses(
    session: Session, statement: Select[WorklistItem], plan: RequestPlan, requestor: str,
) -> Iterator[Response]:
    """The response (:func:`build_response`) of each item ``statement`` selects, in its order.

    Every front end that answers a worklist query (DICOMweb's search, C-FIND on the transfer syntaxes that
    pynetdicom encodes) reads its matches here or in :func:`matching_identifiers`, from the same rows. An item
    whose stored values cannot be built is left out with a WARNING naming it and the attribute, prefixed by
    ``requestor`` (``C-FIND from MR1``): one bad row never ends the answer.
    """
    return _answers(session, statement, requestor, lambda row: build_response(row, plan))


def matching_identifiers(
    session: Session, statement: Select[WorklistItem], plan: RequestPlan, requestor: str, implicit: bool,
) -> Iterator[bytes]:
    """:func:`matching_responses` encoded in Implicit (``implicit``) or Explicit VR Little Endian, straight
    from the rows (:class:`IdentifierEncoder`); an item that cannot be encoded is left out the same way."""
    return _answers(session, statement, requestor, IdentifierEncoder(plan, implicit).encode)


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
            _count(requestor, "refused", started)
            yield _failure(IDENTIFIER_DOES_NOT_MATCH, f"{element}: {exc}", exc.tag)
            return
        except Exception as exc:  # noqa: BLE001 - answered C001; a bug of ours, logged without values
            log_failure(log, logging.ERROR, exc, "C-FIND from %s: the identifier cannot be turned into a query",
                        requestor)
            _count(requestor, "failed", started)
            yield _failure(UNABLE_TO_PROCESS, "identifier cannot be processed")
            return
        status = PENDING_WARNING if query.unmatched_keys else PENDING
        plan = RequestPlan.of(identifier)
        sender = PendingResponses.for_event(event, status)
        matches = 0
        cancelled = False
        failure: Exception | None = None
        try:
            with database.session() as session:
                label = f"C-FIND from {requestor}"
                answers: Iterator[bytes | Response] = (
                    matching_identifiers(session, query.statement, plan, label, sender.implicit) if sender is not None
                    else matching_responses(session, query.statement, plan, label))
                for answer in answers:
                    if event.is_cancelled:
                        cancelled = True
                        break
                    if not event.assoc.is_established:
                        return  # aborted or released by the peer: nobody to answer
                    matches += 1
                    if isinstance(answer, bytes):
                        assert sender is not None  # identifiers are encoded for a sender only
                        sender.send(answer)
                    else:
                        yield status, answer.dataset()
        except Exception as exc:  # noqa: BLE001 - answered C001 (database down, locked, ...)
            failure = exc
        finally:
            if sender is not None:
                sender.finish()  # the pending responses go before anything pynetdicom sends next
        if failure is not None:
            log_failure(log, logging.ERROR, failure, "C-FIND from %s failed after %d matches", requestor, matches)
            metrics.DATABASE_ERRORS.labels("cfind").inc()
            _count(requestor, "failed", started, matches)
            yield _failure(UNABLE_TO_PROCESS, "worklist database error")
            return
        if cancelled:
            log.info("C-FIND from %s: cancelled after %d matches, %.1f ms", requestor, matches, _milliseconds(started))
            _count(requestor, "cancelled", started, matches)
            yield CANCEL, None
            return
        unmatched = f" (not used for matching: {', '.join(query.unmatched_keys)})" if query.unmatched_keys else ""
        _count(requestor, "success", started, matches)
        log.info("C-FIND from %s: %d match%s in %.1f ms%s", requestor, matches, "" if matches == 1 else "es",
                 _milliseconds(started), unmatched)

    return handle_find
