"""The sync engine: scheduled, concurrent, isolated syncs of every enabled source into the worklist.

Modules, one concern each: :mod:`~pylantir.sync.mapping` (``field_mapping``), :mod:`~pylantir.sync.values`
(DICOM value normalisation), :mod:`~pylantir.sync.fields` (mapping targets and their VRs),
:mod:`~pylantir.sync.quality` (quality gates), :mod:`~pylantir.sync.identity` (identities, generated UIDs,
content hashes), :mod:`~pylantir.sync.rows` (one record to one row), :mod:`~pylantir.sync.pump` (reading a
plugin under a deadline), :mod:`~pylantir.sync.spool` (rows between fetch and write),
:mod:`~pylantir.sync.writer` (dedup, upsert, removal), :mod:`~pylantir.sync.runner` (one sync of one
source), :mod:`~pylantir.sync.scheduler` (intervals, windows, circuit breaker), :mod:`~pylantir.sync.clock`,
:mod:`~pylantir.sync.service` (what ``pylantir run`` and ``pylantir sync`` use) and
:mod:`~pylantir.sync.checks` (validation of configured sources before use). User documentation:
``docs/sync.md``.
"""
