"""The unchanged-source shortcut: a sync that can prove nothing changed records its run without fetching.

A sync of a source whose plugin implements ``content_digest`` (:mod:`pylantir.hookspecs`) computes the
source's *content key* first (:func:`content_key`): a digest of the plugin's digest, the source's type,
``config`` and mapping fingerprint, the plugin's distribution and version, the core's version and
normalisation version, and the site's date (the quality gate judges dates against it). A sync that
fetched completely and cleanly stores a :class:`Proof` with its commit: that key, a fingerprint of the
source's stored rows as the commit left them (:func:`stored_rows`) and the counts of the run.

The next sync with the same key and the same stored rows would read the same records, find every row it
stored unchanged (their content hashes are all there), reject the same records for the same reasons and
remove nothing; so :func:`commit_unchanged` records that run (the counts, a copy of the rejections, the
source's state) without calling ``fetch_entries``. ``tests/core/sync/test_unchanged.py`` runs both paths
on the same inputs and compares.

A proof is stored only after a complete fetch in which no other source's entry was met (priorities decide
those again on each sync), housekeeping had removed none of the rows, and the removal guard held nothing
back; any other sync clears it. The fingerprint of the stored rows is their number, the sum of their
content hashes and the number of them a complete fetch may remove, so rows that housekeeping removed,
that another source took over or that were added meanwhile show. The number of removable rows (``SCHEDULED``,
not taken over by MPPS) counts only when some stored row is not one the fetch would find (an entry kept for a
record that is now rejected, or one the removal had to leave): MPPS progress on the others changes nothing
a fetch would do.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from datetime import date
from itertools import repeat
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.orm import Session

from pylantir import __version__
from pylantir.config import DataSourceSettings
from pylantir.contract import SourceError
from pylantir.plugins import PluginBugError, PluginRegistry
from pylantir.store import RejectedRow, SourceState
from pylantir.store.catalogue import STATUS
from pylantir.store.models import WorklistItem
from pylantir.sync.lineage import log_rejections
from pylantir.sync.normalisation import normalisation_version
from pylantir.sync.result import SyncResult

log = logging.getLogger(__name__)

TABLE = cast(Table, WorklistItem.__table__)
HOOK = "content_digest"


@dataclass(frozen=True)
class Proof:
    """What a clean complete sync leaves for the next one to check (``source_states.unchanged_proof``)."""

    key: str
    rows: list[Any]  # stored_rows() after the commit
    run: int  # the run whose rejections a shortcut copies
    fetched: int
    unchanged: int  # records whose row is stored: what a sync of the same records finds unchanged
    rejected: int


def content_key(registry: PluginRegistry, source: DataSourceSettings, fingerprint: str, today: date) -> str | None:
    """The source's content key (module docstring), or ``None`` when its plugin gives no digest.

    A :class:`~pylantir.SourceError` of the hook means no digest (the fetch then reports the problem); a bug
    of the plugin is logged as a WARNING and means no digest either.
    """
    owner = registry.owner(source.type, source.name)
    try:
        results = registry.call_hook(owner, HOOK, source_type=source.type, source_name=source.name,
                                     config=source.config, config_dir=source.config_dir or Path.cwd())
        digest = results[0] if results else None
        if digest is not None and not isinstance(digest, str):
            raise PluginBugError(owner, HOOK, f"returned {digest!r}, expected a text or None")
    except SourceError:
        return None
    except PluginBugError as exc:
        log.warning("source '%s' (type %s): %s; fetching it", source.name, source.type, exc)
        return None
    if digest is None:
        return None
    basis = [digest, source.type, dict(source.config), fingerprint, owner.label, __version__, normalisation_version(),
             today.isoformat()]
    return hashlib.sha256(json.dumps(basis, sort_keys=True, default=str).encode()).hexdigest()


def stored_rows(session: Session, source_name: str) -> list[Any] | None:
    """The fingerprint of the source's stored rows: their number, the sum of their content hashes (hex) and
    the number of them a complete fetch may remove; ``None`` when a row has no (hexadecimal) content hash."""
    mine = TABLE.c.source_name == source_name
    hashes = session.execute(select(TABLE.c.content_hash).where(mine)).scalars().all()
    try:
        total = sum(map(int, hashes, repeat(16)))
    except (TypeError, ValueError):  # None, or a hash of another form: no proof
        return None
    removable = session.execute(
        select(func.count()).select_from(TABLE).where(mine, TABLE.c[STATUS] == "SCHEDULED",
                                                      TABLE.c.status_from_mpps.is_(False))
    ).scalar_one()
    return [len(hashes), format(total, "x"), removable]


def store_proof(session: Session, source_name: str, key: str | None, result: SyncResult) -> None:
    """Store the proof of a committed complete fetch (in its transaction), or clear it when the sync was not
    clean (module docstring) or the plugin gave no digest."""
    clean = key is not None and not (result.conflicts or result.already_removed or result.warnings)
    rows = stored_rows(session, source_name) if clean else None
    proof = None
    if key is not None and rows is not None and result.run_id is not None:
        written = result.inserted + result.updated + result.unchanged
        proof = asdict(Proof(key, rows, result.run_id, result.fetched, written, result.rejected))
    session.execute(update(SourceState).where(SourceState.source_name == source_name).values(unchanged_proof=proof))


def commit_unchanged(session: Session, source_name: str, key: str, result: SyncResult) -> bool:
    """In the sync's write transaction: when the stored proof holds for ``key``, fill ``result`` as the fetch
    would have (copying the rejections of the proof's run to this run) and return True; else change nothing
    and return False."""
    stored = session.execute(
        select(SourceState.unchanged_proof).where(SourceState.source_name == source_name)
    ).scalar_one_or_none()
    if not stored or stored.get("key") != key:
        return False
    proof = Proof(**stored)
    rejections = select(RejectedRow.location, RejectedRow.field, RejectedRow.reason).where(
        RejectedRow.sync_run_id == proof.run).order_by(RejectedRow.id)
    copied = session.execute(rejections).all()
    rows = stored_rows(session, source_name)
    if len(copied) != proof.rejected or rows is None or rows[:2] != proof.rows[:2]:
        return False
    if proof.unchanged < rows[0] and rows[2] != proof.rows[2]:  # a row the fetch would not see may be removable now
        return False
    assert result.run_id is not None
    log_rejections(session, source_name, result.run_id, [reason for _, _, reason in copied])
    if copied:
        session.execute(insert(RejectedRow), [
            {"sync_run_id": result.run_id, "location": location, "field": field, "reason": reason}
            for location, field, reason in copied
        ])
    result.fetched, result.unchanged, result.rejected = proof.fetched, proof.unchanged, proof.rejected
    result.outcome = "success"
    stored["run"] = result.run_id
    session.execute(update(SourceState).where(SourceState.source_name == source_name).values(unchanged_proof=stored))
    return True
