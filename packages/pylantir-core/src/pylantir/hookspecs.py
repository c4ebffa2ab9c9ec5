"""The source-plugin contract: the pluggy hooks a Pylantir plugin implements.

A plugin is a module (installed through the ``pylantir`` entry-point group, or a loose ``.py`` file in
the plugin directory) whose functions are marked with :data:`pylantir.hookimpl` and named after the
hooks below. An implementation may accept any subset of a hook's arguments, in any order: pluggy passes
only the ones it names.

How the core calls the hooks
    ``source_types`` is called once per plugin when it is loaded, to learn which source types it owns.
    ``validate_config`` and ``fetch_entries`` are then called **only on the plugin that owns the
    configured source's type**, never broadcast, so an implementation never has to check whether a
    call is meant for it and never sees another plugin's sources. The write-back hooks
    (``validate_write_back``, ``check_write_back``, ``write_back``) are optional and called only for
    sources whose configuration has a ``write_back`` block; ``content_digest`` (optional) lets a sync of an
    unchanged source skip the fetch. No hook relies on call order or on a
    "first result wins" rule, and every call is made once per source per operation (never per row).

Errors
    Raising :class:`pylantir.SourceError` (or :class:`pylantir.TransientSourceError`, which the core
    retries) reports an expected operational failure: its message is shown without a traceback. Any
    other exception is reported as a bug in the plugin, with its traceback, and never affects other
    sources.

Compatibility policy
    This module is Pylantir's public API. Adding a hook, or adding an argument to a hook, is a
    compatible change (implementations that do not name the new argument keep working). Renaming or
    removing a hook or an argument is a breaking change: it is announced by a deprecation warning for at
    least one minor release first. While the core is before 1.0, a minor release may break, so plugins
    declare ``pylantir-core>=X.Y,<X.Y+1`` (for example ``pylantir-core>=0.1,<0.2``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pluggy

from pylantir.contract import ConfigProblem, FetchState, Record, Rejected, SourceType, StepChange, WriteBackResult

PROJECT_NAME = "pylantir"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def source_types() -> Sequence[SourceType]:
    """Return the source types this plugin provides.

    :return: a sequence of :class:`pylantir.SourceType`, usually of one item. The ``name`` of each is
        what a configured data source puts in ``type``. Two plugins declaring the same name are both
        marked ``conflict`` and neither is used until one is uninstalled or disabled.

    Called once, when the plugin is loaded (by every command, including ``pylantir sources list``),
    so it must be cheap and must not do I/O. Raising here marks the plugin as ``error``.

    Since 0.1.

    Example::

        @hookimpl
        def source_types():
            return [SourceType("csv", "Scheduled exams from CSV exports")]
    """


@hookspec
def validate_config(source_type: str, config: Mapping[str, Any], config_dir: Path) -> Sequence[ConfigProblem]:
    """Return every problem in a configured source's ``config`` object; empty means valid.

    :return: a sequence of :class:`pylantir.ConfigProblem`, each with its dotted ``path`` inside
        ``config``. Report *all* problems at once, not just the first. Use ``severity="warning"``
        for things that are accepted but suspicious (a file that does not exist yet).
    :param source_type: the configured ``type``; lets a plugin that owns several types tell them apart.
    :param config: the source's ``config`` object exactly as parsed from the configuration file.
    :param config_dir: the directory of the configuration file: a relative path in ``config`` means a
        path under it, never under the working directory (cron and systemd run from ``/``).

    Called by ``pylantir config check``, ``pylantir sources check`` and at the start of ``pylantir
    run`` / ``pylantir sync``, before any port is opened. Must not do I/O (no reading or writing files,
    no network or database access): configuration is checked on machines where the data is not
    reachable. Looking whether a path exists (``os.stat``, a glob), to warn, is the one exception.
    Raising is treated as a plugin bug and reported as such.

    Since 0.1.

    Example::

        @hookimpl
        def validate_config(config):
            if not isinstance(config.get("file_path"), str):
                return [ConfigProblem("file_path", "required, a path to a .csv file")]
            return []
    """


@hookspec
def fetch_entries(
    source_type: str,
    source_name: str,
    config: Mapping[str, Any],
    fields: frozenset[str],
    state: FetchState,
    config_dir: Path,
) -> Iterable[Mapping[str, Any] | Record | Rejected]:
    """Return the source's current scheduled entries as raw records, preferably as a generator.

    :return: an iterable (a generator is best: the core consumes it in batches, so memory does not grow
        with the size of the source) whose items are

        - a mapping of source field names to values (nested mappings are reachable from the source's
          ``field_mapping`` with dotted paths),
        - a :class:`pylantir.Record` wrapping such a mapping with its location (``"line 12"``), or
        - a :class:`pylantir.Rejected` for a row the plugin could not read; the rest still lands.

        Records are raw: the core applies the source's ``field_mapping``, converts dates, times and
        names to DICOM form, checks quality and assigns identities. Do not rename fields here.
    :param source_type: the configured ``type``.
    :param source_name: the configured ``name``; use it in error messages.
    :param config: the source's validated ``config`` object.
    :param fields: the source fields the ``field_mapping`` reads (the first segment of each dotted
        path). A plugin may use it to ask its system only for these, or to report a missing column.
    :param state: a :class:`pylantir.FetchState`: what was saved after the last successful sync, and
        where to save a watermark, mark the fetch incremental (``complete = False``) or report that
        nothing changed (``unchanged = True``).
    :param config_dir: the directory of the configuration file, where relative paths of ``config``
        start (see ``validate_config``).

    Called by the sync engine on each of the source's syncs, in a worker thread; the core enforces a
    timeout. Raise :class:`pylantir.SourceError` for expected failures (missing file, 403 from the
    API) and :class:`pylantir.TransientSourceError` for ones worth retrying (timeouts, 5xx); the sync
    run then fails and commits nothing, and other sources are unaffected.

    Since 0.1.

    Example::

        @hookimpl
        def fetch_entries(config):
            with open(config["file_path"], newline="") as handle:
                yield from csv.DictReader(handle)
    """


@hookspec
def content_digest(source_type: str, source_name: str, config: Mapping[str, Any], config_dir: Path) -> str | None:
    """A digest of everything ``fetch_entries`` would read for this source now; optional.

    :return: a text (a hash of the source's content: for a file source, its files' paths and bytes) with one
        promise: while it stays the same, ``fetch_entries`` with the same arguments would yield equal items in
        the same order, as a complete fetch, and would have nothing new to save in its state. Return
        ``None`` when the plugin cannot promise that this time (then the fetch runs as usual).
    :param source_type: the configured ``type``.
    :param source_name: the configured ``name``; use it in error messages.
    :param config: the source's validated ``config`` object.
    :param config_dir: the directory of the configuration file (see ``validate_config``).

    Called by the sync engine before each fetch, in the sync's thread. When the digest, the source's
    configuration and field mapping, the core's normalisation and the site's date are those of the last
    successful sync, and the source's stored entries are still exactly what that sync left, the sync does
    not call ``fetch_entries``: it records a successful run in which every entry is unchanged (with the
    rejections of that sync) and keeps the state the plugin saved then. Anything else runs the fetch. So
    the digest must be much cheaper than a fetch (reading a file once, without parsing it, is), and must
    change whenever the fetch's items could. A :class:`pylantir.SourceError` raised here is not reported:
    the fetch runs and reports the problem itself. Plugins that do not implement it are unaffected: every
    sync fetches.

    Since 0.1.

    Example (a source that reads one file)::

        @hookimpl
        def content_digest(config):
            with open(config["file_path"], "rb") as handle:
                return hashlib.file_digest(handle, "sha256").hexdigest()
    """


@hookspec
def convert_previous_config(source_type: str, previous: Mapping[str, Any]) -> Mapping[str, Any]:
    """Convert a source of the previous Pylantir (0.3.x-0.4.6) owned by this plugin's type; optional.

    :return: a mapping with any of ``config`` (the source's current ``config`` object), ``field_mapping``
        (the current ``field_mapping``), ``visibility`` (the source's ``visibility`` object: what the
        previous Pylantir let scanners see of it over C-FIND; left out: ``server.visibility``) and
        ``notes`` (a sequence of sentences, for the deprecation warning: what changed meaning, what has no
        equivalent). A key left out keeps what ``previous`` has. Return ``None`` to keep everything as
        written.
    :param source_type: the configured ``type``.
    :param previous: the source as the previous Pylantir read it: ``name`` (``None`` when unnamed),
        ``type``, ``sync_interval``, ``config`` (without a ``field_mapping`` it held), ``field_mapping``
        (the one the previous Pylantir used, wherever it was written; its rich ``source_field`` /
        ``_extract`` entries already in the current ``from`` / ``regex`` form, its plain entries as
        written, since what they mean is the type's), and any other key the source held
        (``window_mode``, ``daily_window``...). For a legacy ``redcap2wl`` file, the one ``redcap``
        source the previous Pylantir made of it (``site`` and ``protocol`` in ``config``).

    Called when a configuration file of the previous Pylantir is loaded (by every command that reads
    one), once per source of the plugin's types, before ``validate_config``. Must not do I/O. Plugins
    that do not implement it are unaffected: their sources keep ``config`` and ``field_mapping`` as
    written. Raising is reported as a bug in the plugin.

    Since 0.1.

    Example::

        @hookimpl
        def convert_previous_config(previous):
            config = dict(previous["config"])
            if "path" in config:
                config["file_path"] = config.pop("path")
            return {"config": config, "notes": ["config.path is now config.file_path"]}
    """


@hookspec
def previous_entry_matches(
    source_type: str, config: Mapping[str, Any], entries: Sequence[Mapping[str, Any]]
) -> Sequence[Mapping[str, str] | None]:
    """How this source's records of the previous Pylantir's worklist entries will be recognised; optional.

    :return: one item per entry, in order: a mapping of worklist column name (or ``source_key``: the
        location of the record, as :class:`pylantir.Record` gives it) -> the value the record of that entry
        will have there, every one of which must be equal for a record to be that entry; ``None`` for an
        entry no record can be recognised as.
    :param source_type: the configured ``type``.
    :param config: the source's ``config`` (in the current form, as ``fetch_entries`` gets it).
    :param entries: rows of the previous Pylantir's ``worklist_items`` table that this source wrote, by
        its column names (``patient_id``, ``source_record_id``, ``scheduled_start_date``...).

    Called once per source when ``pylantir db upgrade`` or ``pylantir run`` imports a database of the
    previous Pylantir (0.3.x-0.4.6), before any sync. The first sync that meets a matching record gives
    the imported entry that record's identity: it is updated, not added again, and keeps its status (an
    exam the scanner COMPLETED stays so). Without an implementation, imported entries of the source are
    never recognised: a complete fetch removes the SCHEDULED ones like any entry it no longer returns,
    and its records are added as new entries. Must not do I/O.

    Since 0.1.

    Example (the previous Pylantir identified a booking by its ID)::

        @hookimpl
        def previous_entry_matches(entries):
            return [{"source_key": f"booking {entry['source_record_id']}"}
                    if entry.get("source_record_id") else None for entry in entries]
    """


@hookspec
def validate_write_back(
    source_type: str, config: Mapping[str, Any], settings: Mapping[str, Any]
) -> Sequence[ConfigProblem]:
    """Return every problem in a source's ``write_back.config`` object; empty means valid. Optional.

    :return: a sequence of :class:`pylantir.ConfigProblem`, each with its dotted ``path`` inside
        ``write_back.config``.
    :param source_type: the configured ``type``.
    :param config: the source's ``config`` object (already valid).
    :param settings: the source's ``write_back.config`` object exactly as parsed from the file.

    Called, like ``validate_config``, by ``pylantir config check``, ``pylantir sources check`` and at the
    start of ``pylantir run`` / ``pylantir sync``, only for sources with a ``write_back`` block; the same
    rule holds: no I/O. A source with ``write_back`` whose plugin does not implement ``write_back`` is
    refused before this is called.

    Since 0.1.

    Example::

        @hookimpl
        def validate_write_back(settings):
            if not isinstance(settings.get("status_column"), str):
                return [ConfigProblem("status_column", "required, the column to write the status into")]
            return []
    """


@hookspec
def check_write_back(
    source_type: str, source_name: str, config: Mapping[str, Any], settings: Mapping[str, Any]
) -> Sequence[ConfigProblem]:
    """Check against the source system itself that write-back can work; optional.

    :return: a sequence of :class:`pylantir.ConfigProblem` (paths inside ``write_back.config``): fields
        the system does not have, missing rights to write, a value the field cannot hold.
    :param source_type: the configured ``type``.
    :param source_name: the configured ``name``; use it in messages.
    :param config: the source's validated ``config`` object.
    :param settings: the source's validated ``write_back.config`` object.

    Called by ``pylantir sources check --fetch`` for sources with a ``write_back`` block; it may do I/O
    (it is the place to read a data dictionary or the token's rights). Raise
    :class:`pylantir.SourceError` when the system cannot be reached or refuses the credentials.

    Since 0.1.

    Example::

        @hookimpl
        def check_write_back(config, settings):
            if settings["status_column"] not in read_columns(config["table"]):
                return [ConfigProblem("status_column", "the table has no such column")]
            return []
    """


@hookspec
def write_back(
    source_type: str,
    source_name: str,
    config: Mapping[str, Any],
    settings: Mapping[str, Any],
    changes: Sequence[StepChange],
) -> Sequence[WriteBackResult]:
    """Write performed-step changes of the source's entries back into the source system; optional.

    :return: one :class:`pylantir.WriteBackResult` per change (``done``, ``retry`` or ``failed``). A
        change left without a result is retried, as if ``retry`` had been returned.
    :param source_type: the configured ``type``.
    :param source_name: the configured ``name``; use it in messages.
    :param config: the source's validated ``config`` object.
    :param settings: the source's validated ``write_back.config`` object.
    :param changes: a batch of :class:`pylantir.StepChange` of this source's entries, oldest first, at
        most one per entry (the newest state of each: writing it makes the source current).

    Called by ``pylantir run``'s write-back worker, in a thread of its own, for sources whose
    configuration has a ``write_back`` block, and only on the plugin that owns the source's type. Each
    change is recorded in the same database transaction as the MPPS state it comes from, and is offered
    again until it is ``done`` or ``failed`` (also after a restart), so a plugin may be called twice for
    one change when a process dies between the write and the record of its result: make the write
    idempotent (write the state, not a transition). Raising :class:`pylantir.TransientSourceError` retries
    the whole batch later; :class:`pylantir.SourceError` fails the whole batch for good; any other
    exception is a plugin bug, logged, and the batch is retried.

    Since 0.1.

    Example::

        @hookimpl
        def write_back(config, settings, changes):
            results = []
            for change in changes:
                update_status(config, change.key["id"], change.status)
                results.append(WriteBackResult.done(change))
            return results
    """
