"""Performed-step write-back: MPPS changes of a source's entries written back to the system that scheduled them.

A source opts in with a ``write_back`` block in its configuration; its plugin implements the ``write_back``
hook (and optionally ``validate_write_back`` / ``check_write_back``). Modules, one concern each:
:mod:`~pylantir.writeback.outbox` (the outbox table: recording changes in the MPPS transaction, reading what
is due, storing outcomes, the counts ``sources status`` and the HTTP API show),
:mod:`~pylantir.writeback.delivery` (one pass: batches to the plugin, retries with back-off, giving up) and
:mod:`~pylantir.writeback.service` (``pylantir run``'s worker thread). User documentation: the
``write_back`` section of ``docs/configuration.md``; plugin authors: ``docs/plugins/hooks.md``.
"""
