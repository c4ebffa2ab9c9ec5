"""What one sync of one source did: the run counts (declared once) and the outcome."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

#: Outcomes of a sync that committed.
OK_OUTCOMES = ("success", "unchanged")


@dataclass
class RunCounts:
    """The counts a sync run stores and shows (columns of ``sync_runs``, ``sources status``, ``sync``)."""

    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    removed: int = 0

    def counts(self) -> dict[str, int]:
        """The counts by name, in :data:`COUNTS` order."""
        return {name: getattr(self, name) for name in COUNTS}


#: The names of the run counts, in display order.
COUNTS: tuple[str, ...] = tuple(f.name for f in fields(RunCounts))


@dataclass
class SyncResult(RunCounts):
    """What one sync of one source did."""

    source: str = ""
    outcome: str = "running"  # success, unchanged, failed, timeout, abandoned
    conflicts: int = 0  # entries another source also provides (the higher-ranked one is kept)
    already_removed: int = 0  # new rows that housekeeping removed before: not added again
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    duration: float = 0.0
    run_id: int | None = None

    @property
    def ok(self) -> bool:
        """Whether the sync committed."""
        return self.outcome in OK_OUTCOMES
