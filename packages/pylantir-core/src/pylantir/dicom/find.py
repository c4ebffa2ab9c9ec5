"""The Modality Worklist C-FIND handler: match in SQL, stream one Pending per item, honour C-CANCEL.

Statuses: FF00 per match (FF01 when a key carrying a value was not used for matching), FE00 after a
C-CANCEL, A900 for an identifier that cannot be processed, C001 when the database fails. Failures carry no
identifier; pynetdicom sends the final Success itself. A match whose stored values cannot be encoded is
left out with a WARNING naming the item's id and the attribute (docs/conformance.md 2.5).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from pydicom import Dataset
from pydicom.datadict import tag_for_keyword
from pynetdicom.events import Event

from pylantir.dicom.matching import InvalidIdentifier, MatchSettings, build_query
from pylantir.dicom.responses import UnencodableValue, build_response
from pylantir.store import Database

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


def make_find_handler(database: Database, settings: MatchSettings) -> Callable[[Event], Iterator[FindResult]]:
    """The ``evt.EVT_C_FIND`` handler answering from ``database`` with ``settings``."""

    def handle_find(event: Event) -> Iterator[FindResult]:
        """Answer one C-FIND request (a generator of (status, identifier) pairs)."""
        requestor = event.assoc.requestor.ae_title
        try:
            identifier = event.identifier
        except Exception as exc:  # noqa: BLE001 - any decoding failure is answered A900, never a crash
            log.warning("C-FIND identifier from %s cannot be decoded: %s", requestor, type(exc).__name__)
            yield _failure(IDENTIFIER_DOES_NOT_MATCH, "identifier cannot be decoded")
            return
        try:
            query = build_query(identifier, settings)
        except InvalidIdentifier as exc:
            log.warning("C-FIND from %s refused: %s %s", requestor, exc.keyword, exc)
            yield _failure(IDENTIFIER_DOES_NOT_MATCH, f"{exc.keyword}: {exc}", tag_for_keyword(exc.keyword or ""))
            return
        except Exception:
            log.exception("C-FIND from %s: the identifier cannot be turned into a query", requestor)
            yield _failure(UNABLE_TO_PROCESS, "identifier cannot be processed")
            return
        status = PENDING_WARNING if query.unmatched_keys else PENDING
        try:
            with database.session() as session:
                for item in session.scalars(query.statement.execution_options(yield_per=YIELD_PER)):
                    if event.is_cancelled:
                        yield CANCEL, None
                        return
                    try:
                        response = build_response(item, identifier)
                    except UnencodableValue as exc:  # one bad row never ends the answer: leave it out, say so
                        log.warning("C-FIND from %s: worklist item id %s (source %s) left out: %s",
                                    requestor, item.id, item.source_name, exc)
                        continue
                    yield status, response
        except Exception:
            log.exception("C-FIND from %s failed while reading the worklist", requestor)
            yield _failure(UNABLE_TO_PROCESS, "worklist database error")

    return handle_find
