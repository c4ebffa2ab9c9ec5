"""The fetch loop of a sync: the plugin's items, one by one, to prepared rows or rejections.

:func:`fetch_source` is the one per-item pipeline. A sync runs it against the rows the source has stored
(content hashes) and sends prepared rows to its spool; the preview (``pylantir sources check --fetch``) and
:func:`pylantir.testing.check_source_contract` run the same function in dry-run mode: nothing stored, the
rows collected in memory. Per item, in order:

1. an item that is neither a record nor a mapping is rejected; a plugin's :class:`~pylantir.Rejected` is
   kept as it is;
2. the raw record's content hash (:func:`~pylantir.sync.identity.record_hasher`) names a stored row of this
   source whose identity this fetch has not seen yet: the record is unchanged and not even mapped;
3. otherwise it is mapped, normalised, checked and identified (:class:`~pylantir.sync.rows.RowPreparer`);
4. a second record with the identity of an earlier one in the same fetch is rejected ("same entry").

The fetch thread hands items over in chunks: the records of a chunk that step 2 will map are prepared
together (the mapping runs field by field across them, :meth:`~pylantir.sync.mapping.FieldMapping.checked`),
then steps 1-4 are applied to the chunk's items in order, so that outcomes and rejections are those of one
item at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from pylantir.config import DataSourceSettings
from pylantir.contract import FetchState, Record, Rejected
from pylantir.plugins import PluginRegistry
from pylantir.sync.identity import identity_basis, record_hasher
from pylantir.sync.mapping import FieldMapping
from pylantir.sync.normalisation import normalisation_version
from pylantir.sync.pump import Pump
from pylantir.sync.rows import PreparedRow, Raw, Rejection, RowPreparer

CHUNK_SIZE = 100  # raw records per hand-over from the fetch thread (the queue holds a few chunks)
Progress = Callable[[str, int], None]


@dataclass
class Fetched:
    """What one fetch gave: counts, the identities it saw and its rejections (the rows went to ``keep``)."""

    state: FetchState
    known: Mapping[str, str]  # content hash -> identity of this source's stored rows
    seen: set[str] = field(default_factory=set)
    rejections: list[Rejection] = field(default_factory=list)
    fetched: int = 0
    unchanged: int = 0


class _Items:
    """Steps 1-4 of the module docstring for one fetch."""

    def __init__(self, fetched: Fetched, preparer: RowPreparer, mapping: FieldMapping,
                 keep: Callable[[PreparedRow], None]):
        self.fetched = fetched
        self.preparer = preparer
        self.hasher = record_hasher(mapping.fingerprint, normalisation_version())
        self.keep = keep

    def take(self, chunk: Sequence[object]) -> None:
        """Steps 1-4 for each item of ``chunk``, in order; the records to map are prepared together."""
        fetched = self.fetched
        known = fetched.known
        raws: list[Raw | Rejection] = []
        for item in chunk:
            fetched.fetched += 1
            raws.append(self._raw(item, fetched.fetched))
        prepared = iter(self.preparer.prepare_all(
            [raw for raw in raws if isinstance(raw, Raw) and raw.content_hash not in known]))
        for raw in raws:
            if isinstance(raw, Rejection):
                fetched.rejections.append(raw)
                continue
            identity = known.get(raw.content_hash)
            if identity is None:
                outcome = next(prepared)
            elif identity not in fetched.seen:
                fetched.seen.add(identity)
                fetched.unchanged += 1
                continue
            else:  # its stored row was claimed by an earlier record of this fetch: map it after all
                outcome = self.preparer.prepare(*raw)
            self._keep_or_reject(outcome, raw.location)

    def _raw(self, item: object, number: int) -> Raw | Rejection:
        """Step 1: the record of the ``number``-th item, with its content hash, or its rejection."""
        if isinstance(item, Record):
            return Raw(item.data, item.location, self.hasher(item.data), item.key)
        if isinstance(item, (dict, Mapping)):  # a dict first: the check for a Mapping is slower
            return Raw(item, f"record {number}", self.hasher(item))
        if isinstance(item, Rejected):
            return Rejection(item.location, None, item.reason)
        return Rejection(f"item {number}", None, f"the plugin yielded {type(item).__name__}, not a record")

    def _keep_or_reject(self, outcome: PreparedRow | Rejection, location: str) -> None:
        """Step 4, then the prepared row to ``keep`` or the rejection to the list."""
        fetched = self.fetched
        if isinstance(outcome, PreparedRow):
            if outcome.identity not in fetched.seen:
                fetched.seen.add(outcome.identity)
                self.keep(outcome)
                return
            outcome = Rejection(location, None,
                                f"same entry as an earlier record (same {identity_basis(outcome.identity)})")
        if outcome.identity is not None:
            fetched.seen.add(outcome.identity)
        fetched.rejections.append(outcome)


def fetch_source(
    registry: PluginRegistry,
    source: DataSourceSettings,
    mapping: FieldMapping,
    preparer: RowPreparer,
    state: FetchState,
    keep: Callable[[PreparedRow], None],
    *,
    known: Mapping[str, str] | None = None,
    deadline: float,
    cancel: threading.Event | None = None,
    chunk_size: int = CHUNK_SIZE,
    progress: Progress | None = None,
) -> Fetched:
    """Read the whole source once under ``deadline`` (``time.monotonic()``), handing valid rows to ``keep``.

    :param known: content hash -> identity of the rows the source has stored (none: a dry run, every
        record is prepared).
    Raises what the fetch raises (:class:`~pylantir.SourceError`, :class:`~pylantir.plugins.PluginBugError`),
    and :class:`~pylantir.sync.pump.SyncStopped` on the deadline or ``cancel``.
    """
    fetched = Fetched(state, known if known is not None else {})
    items = _Items(fetched, preparer, mapping, keep)
    pump = Pump(
        lambda: registry.fetch_entries(source.type, source.name, source.config, mapping.source_fields, state,
                                       source.config_dir),
        chunk_size,
        source.name,
    )
    try:
        for chunk in pump.chunks(deadline, cancel or threading.Event(), source.timeout):
            items.take(chunk)
            if progress is not None:
                progress(source.name, fetched.fetched)
    finally:
        pump.stop()
    return fetched
