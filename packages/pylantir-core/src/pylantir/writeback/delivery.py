"""Delivering the outbox: due changes, a batch per source, to the owning plugin's ``write_back`` hook.

One pass takes each write-back source's due changes (oldest first, ``write_back.batch_size`` at a time) and
hands them to the plugin; each result is stored in a transaction of its own right after the call:

- ``done`` and ``failed`` end the change (``failed`` is kept, with the plugin's message, for a person);
- ``retry``, a change left without a result, :class:`~pylantir.TransientSourceError` and a plugin bug
  schedule the next attempt with exponential back-off (tenacity's ``wait_exponential``: the source's
  ``first_retry_seconds``, doubling, at most ``max_retry_seconds``), until ``give_up_after_hours`` after the
  change was recorded, when it is marked failed;
- :class:`~pylantir.SourceError` fails the whole batch.

A batch with a change written means the source answers again: its other pending changes are due at once
(after an outage the backlog is written right away, not each change when its own back-off ends).

The attempt count and next attempt time are stored, so back-off and giving up survive restarts. On
PostgreSQL a pass holds a transaction-scoped advisory lock on a connection of its own: several instances
sharing a database never deliver at the same time, so an entry's changes are written in order by one
process. A change whose result could not be stored (the process died after the plugin's write) is offered
again: plugins write the current state, idempotently.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session
from tenacity import RetryCallState, Retrying, wait_exponential

from pylantir.config import DataSourceSettings, PylantirConfig, WriteBack
from pylantir.contract import SourceError, TransientSourceError, WriteBackResult
from pylantir.plugins import PluginBugError, PluginRegistry, PluginUnavailableError
from pylantir.store import Database, WriteBackChange
from pylantir.sync.clock import Clock, SystemClock, as_utc
from pylantir.writeback import outbox

log = logging.getLogger(__name__)

#: The PostgreSQL advisory lock key of a delivery pass.
LOCK_KEY = zlib.crc32(b"pylantir.writeback")


def retry_delay(settings: WriteBack, attempts: int) -> float:
    """Seconds before the next attempt of a change that failed ``attempts`` times (tenacity's back-off)."""
    state = RetryCallState(Retrying(), None, (), {})
    state.attempt_number = max(attempts, 1)
    wait = wait_exponential(multiplier=settings.first_retry_seconds, max=settings.max_retry_seconds)
    return float(wait(state))


@dataclass
class PassReport:
    """What one delivery pass did, counted over every source."""

    done: int = 0
    retried: int = 0
    failed: int = 0

    @property
    def handled(self) -> int:
        """Changes the pass handed to plugins."""
        return self.done + self.retried + self.failed


class Deliverer:
    """Delivery passes over the outbox of every source of ``config`` that writes back."""

    def __init__(self, config: PylantirConfig, registry: PluginRegistry, database: Database,
                 clock: Clock | None = None, stop: threading.Event | None = None):
        self.sources = {source.name: source for source in config.write_back_sources()}
        self.registry = registry
        self.database = database
        self.clock = clock or SystemClock()
        self.stop = stop or threading.Event()

    def run(self) -> PassReport:
        """Deliver every due change (none while another instance is delivering)."""
        report = PassReport()
        with self._exclusive() as taken:
            if taken:
                for source in self.sources.values():
                    self._deliver_source(source, report)
        return report

    def next_due(self) -> datetime | None:
        """When the earliest pending change is due (``None``: nothing pending)."""
        with self.database.session() as session:
            due = outbox.next_due(session, list(self.sources))
        return as_utc(due) if due is not None else None

    @contextmanager
    def _exclusive(self) -> Iterator[bool]:
        if self.database.engine.dialect.name != "postgresql":
            yield True
            return
        with self.database.engine.connect() as connection, connection.begin():
            yield bool(connection.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": LOCK_KEY}))

    def _deliver_source(self, source: DataSourceSettings, report: PassReport) -> None:
        settings = source.write_back
        assert settings is not None  # only sources that write back are delivered
        while not self.stop.is_set():
            with self.database.session() as session:
                now = self.clock.now()
                due = outbox.newest_of_each_entry(
                    session, outbox.due_changes(session, source.name, now, settings.batch_size), now)
            if not due:
                return
            self._deliver_batch(source, settings, due, report)

    def _deliver_batch(self, source: DataSourceSettings, settings: WriteBack, rows: list[WriteBackChange],
                       report: PassReport) -> None:
        changes = [outbox.step_change(row) for row in rows]
        failure: tuple[str, str] | None = None  # (outcome, message) for the whole batch
        results: dict[int, WriteBackResult] = {}
        try:
            results = self.registry.write_back(source.type, source.name, source.config, settings.config, changes)
        except TransientSourceError as exc:
            failure = ("retry", str(exc))
        except SourceError as exc:
            failure = ("failed", str(exc))
        except (PluginBugError, PluginUnavailableError) as exc:
            log.error("write-back to source '%s' failed: %s", source.name, exc)
            failure = ("retry", str(exc))
        now = self.clock.now()
        before = PassReport(report.done, report.retried, report.failed)
        last_message = ""
        with self.database.session() as session:
            for row, change in zip(rows, changes, strict=True):
                if failure is not None:
                    outcome, message = failure
                elif change.change_id in results:
                    outcome, message = results[change.change_id].outcome, results[change.change_id].message
                else:
                    outcome, message = "retry", "the plugin returned no result for this change"
                self._store(session, settings, row, outcome, message, now, report)
                last_message = message or last_message
            if report.done > before.done:
                outbox.due_now(session, source.name, now)
        done, retried, failed = (report.done - before.done, report.retried - before.retried,
                                 report.failed - before.failed)
        if done:
            log.info("write-back to source '%s': %d change(s) written", source.name, done)
        if retried:
            log.warning("write-back to source '%s': %d change(s) to retry (%s)", source.name, retried, last_message)
        if failed:
            log.warning("write-back to source '%s': %d change(s) failed for good (%s); see pylantir sources status",
                        source.name, failed, last_message)

    @staticmethod
    def _store(session: Session, settings: WriteBack, row: WriteBackChange, outcome: str, message: str,
               now: datetime, report: PassReport) -> None:
        """Store one change's outcome: done, failed, or its next attempt."""
        given_up = outcome == "retry" and now - outbox.attempts_since(row) >= timedelta(
            hours=settings.give_up_after_hours)
        if outcome == "done":
            outbox.finish(session, row.id, outbox.DONE, now)
            report.done += 1
        elif outcome == "failed" or given_up:
            reason = f"gave up after {settings.give_up_after_hours:g} h: {message}" if given_up else message
            outbox.finish(session, row.id, outbox.FAILED, now, reason)
            report.failed += 1
        else:
            delay = retry_delay(settings, row.attempts + 1)
            outbox.postpone(session, row.id, now + timedelta(seconds=delay), message)
            report.retried += 1
