"""A source's ``field_mapping``: parsed and checked once, then applied to every raw record.

Two forms, told apart by the value's type (see the team's mapping syntax):

``"<source path>": "<worklist field>"``
    plain rename. A field mapped to itself that is not a worklist field (legacy ``"study_id":
    "study_id"``) only asks for the source field to be fetched and writes nothing; any other target
    that is not a worklist field is an error (a typo must not be silently ignored).
``"<worklist field>": {spec}``
    rich form with exactly one of ``from`` (a dotted path), ``template`` (``"sub_{study_id}"``,
    placeholders are dotted paths) or ``value`` (a constant), and optionally ``regex`` (with ``from``:
    first group of the first match), ``extract`` (with ``template``: a pattern per placeholder),
    ``map`` (translate values), ``default`` (when missing or empty), ``format`` (see
    :data:`pylantir.sync.values.FORMATS`) with ``input_formats`` or ``name_order``.

A missing or empty value, a ``regex`` that does not match, or a template with a missing placeholder
gives the ``default`` (or nothing). A ``map`` leaves values it does not list as they are. Values are
then normalised by the explicit ``format`` and by the target's own form (dates ``YYYYMMDD``, times
``HHMMSS``, names ``Family^Given``, code strings upper-case, ``patient_weight_lb`` to kilograms).
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import repeat
from typing import Any

from pylantir.config import DataSourceSettings
from pylantir.sync.fields import EXTRA_PREFIX, Target, suggest_target, target
from pylantir.sync.values import ALL_FORMATS, DATE_ORDERS, FORMATS, NAME_ORDERS, ValueProblem, to_text

Reader = Callable[[Mapping[str, Any]], Any]
#: Whether a target's normalised value (never ``None``) passes a check (see :meth:`FieldMapping.checked`).
Check = Callable[[Any], bool]
#: The full match of a text a target's check accepts (not ``None``) when the match is its whole check.
TextMatch = Callable[[str], Any]
#: The message of the :class:`ValueProblem` a refused value raises (:meth:`FieldMapping.checked` never shows it).
REFUSED = "refused by the check"

_SOURCES = ("from", "template", "value")
_OPTIONS = frozenset({"regex", "extract", "map", "default", "format", "input_formats", "name_order"})
_PARSED_FORMATS = frozenset({"date", "time", "datetime"})
#: Distinct texts whose normalised form a plain rename remembers (codes, dates, times repeat across rows).
KNOWN_VALUES = 512


class MappingError(ValueError):
    """A ``field_mapping`` that cannot be used; each of ``problems`` names the mapping key."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class RowError(ValueError):
    """A record whose values cannot be mapped.

    ``problems`` are ``(field, reason)`` pairs; ``row`` holds the fields that did map.
    """

    def __init__(self, problems: list[tuple[str, str]], row: dict[str, Any]):
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in problems))
        self.problems = problems
        self.row = row


def is_empty(value: Any) -> bool:
    """``None``, or a string of only white space."""
    return value is None or (isinstance(value, str) and not value.strip())


def _fields_of(records: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> list[Sequence[Any]]:
    """For each of ``fields``, its value in each record (``record.get(field)``), in order."""
    if all(record.__class__ is dict for record in records):  # dict.get, looped by C (a subclass may override get)
        return [list(map(dict.get, records, repeat(field))) for field in fields]  # type: ignore[arg-type]
    return [[record.get(field) for record in records] for field in fields]


def _path_reader(path: str) -> Reader:
    parts = tuple(path.split("."))
    if len(parts) == 1:
        key = parts[0]
        return lambda record: record.get(key)

    def read(record: Mapping[str, Any]) -> Any:
        value: Any = record
        for part in parts:
            if isinstance(value, Mapping):
                value = value.get(part)
            elif isinstance(value, (list, tuple)) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                return None
            if value is None:
                return None
        return value

    return read


def _searcher(read: Reader, pattern: re.Pattern[str]) -> Reader:
    def search(record: Mapping[str, Any]) -> Any:
        value = read(record)
        if is_empty(value):
            return None
        match = pattern.search(str(value))
        return match[1] if match else None

    return search


@dataclass(frozen=True, slots=True)
class _Entry:
    key: str
    target: Target
    read: Reader
    translate: Mapping[str, Any] | None
    default: Any
    steps: tuple[tuple[str, Callable[[Any], Any]], ...]
    field: str | None = None  # set for a plain rename of a top-level field

    @property
    def plain(self) -> bool:
        """A plain rename of a top-level field: its value is the field's, normalised by one step."""
        return self.field is not None and self.translate is None and self.default is None and len(self.steps) == 1

    def compiled(self) -> Callable[[Mapping[str, Any]], Any]:
        """:meth:`value`, or an equivalent shortcut for the common plain rename of a top-level field."""
        field = self.field
        if field is None or not self.plain:
            return self.value
        known: dict[str, Any] = {}
        normalise = self.normaliser(known)

        def plain(record: Mapping[str, Any]) -> Any:
            value: Any = record.get(field)  # a raw value: None, text or anything else
            if value.__class__ is str and (found := known.get(value)) is not None:
                return found
            return normalise(value)

        return plain

    def normaliser(self, known: dict[str, Any], passes: Check | None = None) -> Callable[[Any], Any]:
        """The raw value of a :attr:`plain` entry's field to its normalised form, remembered in ``known`` (text ->
        its normalised form: normalisers are pure functions) for the caller to look up first.

        With ``passes``, a value that is not ``None`` and that ``passes`` refuses raises :class:`ValueProblem`
        too, and only values it accepted are remembered.
        """
        ((name, step),) = self.steps
        stripping = step is to_text  # what to_text makes of text

        def normalise(value: Any) -> Any:
            text = value.__class__ is str
            if text:
                if not (stripped := value.strip()):
                    return None
            elif value is None:
                return None
            try:
                normalised = stripped if text and stripping else step(value)
            except ValueProblem:
                raise
            except (ValueError, TypeError, OverflowError, OSError):
                raise ValueProblem(f"not a valid {name}") from None
            if passes is not None and normalised is not None and not passes(normalised):
                raise ValueProblem(REFUSED)
            if text and len(known) < KNOWN_VALUES:
                known[value] = normalised
            return normalised

        return normalise

    def column_normaliser(
        self, known: dict[str, Any], passes: Check, matches: TextMatch | None = None
    ) -> Callable[[Sequence[Any], set[int]], list[Any]]:
        """:meth:`normaliser` (with ``passes``) over the raw values of a :attr:`plain` entry's field in many
        records: their normalised forms, in order; the position of each value it refuses goes to the set given.

        A value at a position already in that set is not normalised (the record failed on an earlier field,
        as :meth:`normaliser` would not have reached it). With ``matches``, the whole check ``passes`` makes of a
        stripped non-empty text, the new texts of an entry whose one step strips text are stripped and matched
        by C code, and remembered together; any other value goes through :meth:`normaliser` one by one.
        """
        normalise = self.normaliser(known, passes)
        matches = matches if self.steps[0][1] is to_text else None

        def column(raw: Sequence[Any], refused: set[int]) -> list[Any]:
            try:
                values = list(map(known.get, raw))  # None: not known (or an empty value)
            except TypeError:  # an unhashable value (a list, an object)
                values = [None] * len(raw)
            new_at = [at for at, value in enumerate(values) if value is None and raw[at] is not None]
            new = [raw[at] for at in new_at]
            if matches is not None and {*map(type, new)} == {str}:
                stripped = list(map(str.strip, new))
                if None not in map(matches, filter(None, stripped)):
                    for at, text in zip(new_at, stripped, strict=True):
                        values[at] = text or None
                    if "" not in stripped and len(known) + len(new) <= KNOWN_VALUES:
                        known.update(zip(new, stripped, strict=True))
                    return values
            for at in new_at:
                if at not in refused:
                    try:
                        values[at] = normalise(raw[at])
                    except ValueProblem:
                        refused.add(at)
            return values

        return column

    def value(self, record: Mapping[str, Any]) -> Any:
        value = self.read(record)
        if value is not None and self.translate is not None:
            value = self.translate.get(str(value).strip(), value)
        if value is None or (value.__class__ is str and not value.strip()):
            value = self.default
            if value is None:
                return None
        for name, step in self.steps:
            try:
                value = step(value)
            except ValueProblem:
                raise
            except (ValueError, TypeError, OverflowError, OSError):
                raise ValueProblem(f"not a valid {name}") from None
        return value


class FieldMapping:
    """A parsed ``field_mapping``: use :meth:`parse`, then :meth:`apply` per record."""

    def __init__(self, entries: list[_Entry], source_fields: frozenset[str], fingerprint: str = ""):
        self._entries = entries
        self._plan = [(entry.compiled(), entry.target.name, entry.target.column, entry.target.extra_keyword)
                      for entry in entries]
        self._map = _one_pass([(compute, column, keyword) for compute, _, column, keyword in self._plan])
        self.source_fields = source_fields
        self.targets = frozenset(entry.target.name for entry in entries)
        #: A digest of the mapping as configured: part of every content hash.
        self.fingerprint = fingerprint

    @classmethod
    def parse(
        cls, field_mapping: dict[str, Any], *, where: str = "field_mapping", date_order: str | None = None
    ) -> FieldMapping:
        """Check ``field_mapping`` and compile it, or raise :class:`MappingError` listing every problem.

        ``date_order`` (the source's, one of :data:`~pylantir.sync.values.DATE_ORDERS`) reads the slash and
        dot dates of every date field that has no ``input_formats`` of its own.
        """
        if not isinstance(field_mapping, Mapping):
            raise MappingError([f"{where}: must be an object of source field -> worklist field"])
        if date_order is not None and date_order not in DATE_ORDERS:
            raise MappingError([f"date_order: must be one of {', '.join(DATE_ORDERS)}"])
        builder = _Builder(where, date_order)
        for key, spec in field_mapping.items():
            builder.add(key, spec)
        if builder.problems:
            raise MappingError(builder.problems)
        canonical = json.dumps(field_mapping, sort_keys=True, default=str)
        if date_order is not None:  # a mapping without one keeps the fingerprint it always had
            canonical += f"\ndate_order={date_order}"
        return cls(builder.entries, frozenset(builder.fields), hashlib.sha256(canonical.encode()).hexdigest()[:32])

    @classmethod
    def of_source(cls, source: DataSourceSettings, *, where: str = "field_mapping") -> FieldMapping:
        """The source's ``field_mapping`` parsed with its ``date_order`` (see :meth:`parse`)."""
        return cls.parse(source.field_mapping, where=where, date_order=source.date_order)

    def apply(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Map one raw record to worklist columns (``extra.*`` targets under ``extra_attributes``, or
        ``extra_step_attributes`` for attributes of the Scheduled Procedure Step item).

        Targets whose value is missing are ``None``. Raises :class:`RowError` naming every field whose
        value cannot be normalised (the reasons never quote the values).
        """
        try:  # the common case in one pass; a record with a problem is mapped again, field by field
            return self._map(record)
        except ValueProblem:
            return self._apply_reporting(record)

    def checked(
        self, passes: Callable[[Target], Check], text_match: Callable[[Target], TextMatch | None]
    ) -> Callable[[Sequence[Mapping[str, Any]]], list[dict[str, Any] | None]]:
        """A function giving, for each of a list of records, what :meth:`apply` gives for a record whose every
        value can be normalised and passes the check of its target (``passes(target)``), and ``None`` for any
        other record.

        Compiled once, and run column by column: the plain renames of top-level fields into columns (most of a
        mapping) are read a field at a time across the records and looked up among the texts already accepted,
        with their normalised form, at C speed; the new texts of a field whose only step is stripping and whose
        whole check is a full match (``text_match(target)``: IDs, UIDs, descriptions) are stripped and matched
        at C speed too (:meth:`_Entry.column_normaliser`). Only the other values and entries run Python code
        per value.
        """
        plain: list[_Entry] = []
        other: list[_Entry] = []
        for entry in self._entries:
            (plain if entry.plain and entry.target.extra_keyword is None else other).append(entry)
        fields = tuple(entry.field or "" for entry in plain)  # (a plain entry has its field)
        columns = tuple(entry.target.column for entry in plain)
        normalisers = [entry.column_normaliser({}, passes(entry.target), text_match(entry.target)) for entry in plain]
        others = _one_pass([
            (_refusing(entry.compiled(), passes(entry.target)), entry.target.column, entry.target.extra_keyword)
            for entry in other
        ]) if other else None

        def checked(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any] | None]:
            refused: set[int] = set()  # positions of the records with a value that failed
            raws = _fields_of(records, fields)
            normalised = [normalise(raw, refused) for normalise, raw in zip(normalisers, raws, strict=True)]
            rows: list[dict[str, Any] | None] = [dict(zip(columns, values, strict=True))
                                                 for values in zip(*normalised, strict=True)]
            if not normalised:
                rows = [{} for _ in records]
            for position in refused:
                rows[position] = None
            if others is not None:
                for position, (record, row) in enumerate(zip(records, rows, strict=True)):
                    if row is not None:
                        try:
                            row.update(others(record))
                        except ValueProblem:
                            rows[position] = None
            return rows

        return checked

    def _apply_reporting(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """:meth:`apply` for a record with a problem: raises :class:`RowError` listing all of them."""
        row: dict[str, Any] = {}
        problems: list[tuple[str, str]] = []
        for compute, name, column, keyword in self._plan:
            try:
                value = compute(record)
            except ValueProblem as exc:
                problems.append((name, str(exc)))
                continue
            if keyword is None:
                row[column] = value
            elif value is not None:
                row.setdefault(column, {})[keyword] = value
        if problems:
            raise RowError(problems, row)
        return row


class _Builder:
    """Collects entries, source fields and problems while parsing one mapping."""

    def __init__(self, where: str, date_order: str | None = None):
        self.where = where
        self.date_order = date_order
        self.entries: list[_Entry] = []
        self.fields: set[str] = set()
        self.problems: list[str] = []
        self._writers: dict[str, str] = {}

    def fail(self, key: str, message: str) -> None:
        self.problems.append(f"{self.where}.{key}: {message}")

    def add(self, key: str, spec: Any) -> None:
        if isinstance(spec, str):
            self._add_plain(key, spec)
        elif isinstance(spec, Mapping):
            self._add_rich(key, spec)
        else:
            self.fail(key, "must be a worklist field name (plain rename) or an object (rich form)")

    def _path(self, key: str, path: Any) -> Reader | None:
        if not isinstance(path, str) or not path or any(not part for part in path.split(".")):
            self.fail(key, f"{path!r} is not a source field or dotted path")
            return None
        self.fields.add(path.split(".")[0])
        return _path_reader(path)

    def _add_plain(self, key: str, target_name: str) -> None:
        read = self._path(key, key)
        found = target(target_name)
        if found is None and target_name != key:
            self.fail(key, _unknown_target(target_name, "to only fetch the source field, map it to itself"))
        elif found is not None and read is not None:
            field = None if "." in key else key
            self._add_entry(_Entry(key, found, read, None, None, self._steps(found, None, {}), field))

    def _add_rich(self, key: str, spec: Mapping[str, Any]) -> None:
        found = target(key)
        if found is None:
            self.fail(key, _unknown_target(key))
            return
        unknown = sorted(set(spec) - _OPTIONS - set(_SOURCES))
        if unknown:
            self.fail(key, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join((*_SOURCES, *sorted(_OPTIONS)))}")
        sources = [name for name in _SOURCES if name in spec]
        if len(sources) != 1:
            self.fail(key, "needs exactly one of 'from', 'template' or 'value'")
            return
        translate = spec.get("map")
        if translate is not None and not isinstance(translate, Mapping):
            self.fail(key, "'map' must be an object of source value -> worklist value")
            return
        read = self._reader(key, sources[0], spec)
        options = self._format_options(key, found, spec)
        if read is None or options is None:
            return
        if translate is not None:
            translate = {str(source).strip(): value for source, value in translate.items()}
        steps = self._steps(found, *options)
        default = None if is_empty(spec.get("default")) else spec["default"]
        self._add_entry(_Entry(key, found, read, translate, default, steps))

    def _reader(self, key: str, source: str, spec: Mapping[str, Any]) -> Reader | None:
        for option, allowed_with in (("regex", "from"), ("extract", "template")):
            if option in spec and source != allowed_with:
                self.fail(key, f"'{option}' only goes with '{allowed_with}'")
                return None
        if source == "value":
            constant = spec["value"]
            return lambda _record: constant
        if source == "from":
            read = self._path(key, spec["from"])
            if read is None or "regex" not in spec:
                return read
            pattern = self._pattern(key, "regex", spec["regex"])
            return None if pattern is None else _searcher(read, pattern)
        return self._template(key, spec["template"], spec.get("extract") or {})

    def _pattern(self, key: str, option: str, raw: Any) -> re.Pattern[str] | None:
        try:
            pattern = re.compile(raw) if isinstance(raw, str) else None
        except re.error as exc:
            self.fail(key, f"'{option}' is not a valid regular expression: {exc}")
            return None
        if pattern is None or pattern.groups != 1:
            self.fail(key, f"'{option}' must be a regular expression with exactly one capture group")
            return None
        return pattern

    def _template(self, key: str, template: Any, extract: Any) -> Reader | None:
        if not isinstance(template, str) or not isinstance(extract, Mapping):
            self.fail(key, "'template' must be a string and 'extract' an object of placeholder -> pattern")
            return None
        try:
            pieces = list(string.Formatter().parse(template))
        except ValueError as exc:
            self.fail(key, f"'template' is malformed: {exc}")
            return None
        parts: list[tuple[str, Reader | None]] = []
        failed = False
        for literal, placeholder, spec, conversion in pieces:
            read = None
            if placeholder is not None:
                if spec or conversion:
                    self.fail(key, f"placeholder {{{placeholder}}}: format specs and conversions are not supported")
                read = self._path(key, placeholder)
                if read is not None and placeholder in extract:
                    pattern = self._pattern(key, f"extract.{placeholder}", extract[placeholder])
                    read = None if pattern is None else _searcher(read, pattern)
                failed = failed or read is None or bool(spec or conversion)
            parts.append((literal, read))
        placeholders = {placeholder for _, placeholder, _, _ in pieces if placeholder is not None}
        for name in sorted(set(extract) - placeholders):
            self.fail(key, f"'extract' names {name!r}, which is not a placeholder of the template")
            failed = True
        if failed:
            return None
        return _composer(tuple(parts))

    def _format_options(
        self, key: str, found: Target, spec: Mapping[str, Any]
    ) -> tuple[str | None, dict[str, Any]] | None:
        fmt = spec.get("format")
        if fmt is not None and fmt not in FORMATS:
            self.fail(key, f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
            return None
        effective = fmt or found.auto_format
        kwargs: dict[str, Any] = {}
        if "input_formats" in spec:
            formats = spec["input_formats"]
            if effective not in _PARSED_FORMATS:
                self.fail(key, "'input_formats' needs format date, time or datetime")
                return None
            if not isinstance(formats, list) or not formats or not all(isinstance(f, str) for f in formats):
                self.fail(key, "'input_formats' must be a non-empty list of strptime patterns")
                return None
            if found.name == "patient_birth_date" and any("%y" in pattern for pattern in formats):
                self.fail(key, "'input_formats' with a two-digit year (%y) cannot tell a birth in 1945 from one in "
                               "2045; export four-digit years (%Y)")
                return None
            kwargs["input_formats"] = tuple(formats)
        if "name_order" in spec:
            if effective != "name" or spec["name_order"] not in NAME_ORDERS:
                self.fail(key, f"'name_order' needs format name and one of {', '.join(NAME_ORDERS)}")
                return None
            kwargs["name_order"] = spec["name_order"]
        return fmt, kwargs

    def _steps(
        self, found: Target, fmt: str | None, kwargs: dict[str, Any]
    ) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
        """The explicit format (with its options), then the target's own form when it differs (per value).

        A date step without ``input_formats`` reads slash and dot dates in the source's ``date_order``.
        """
        named = [(fmt, kwargs)] if fmt is not None else []
        if fmt != found.auto_format:
            named.append((found.auto_format, kwargs if fmt is None else {}))
        steps = []
        for name, options in named:
            if name == "date" and self.date_order is not None and "input_formats" not in options:
                options = {**options, "date_order": self.date_order}
            steps.append((name, found.per_value(_bind(ALL_FORMATS[name], options))))
        return tuple(steps)

    def _add_entry(self, entry: _Entry) -> None:
        written = entry.target.name if entry.target.extra_keyword else entry.target.column
        if written in self._writers:
            self.fail(entry.key, f"worklist field {written} is also written by '{self._writers[written]}'")
            return
        self._writers[written] = entry.key
        self.entries.append(entry)


Compute = Callable[[Mapping[str, Any]], Any]


def _one_pass(plan: list[tuple[Compute, str, str | None]]) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """The row of a record from each target's ``(compute, column, extra keyword)``, raising the first
    :class:`ValueProblem` (see :meth:`FieldMapping.apply`)."""
    columns = [(compute, column) for compute, column, keyword in plan if keyword is None]
    #: JSON column (the extras of one level) -> its (compute, keyword) pairs
    extras: dict[str, list[tuple[Compute, str]]] = {}
    for compute, column, keyword in plan:
        if keyword is not None:
            extras.setdefault(column, []).append((compute, keyword))

    def row_of(record: Mapping[str, Any]) -> dict[str, Any]:
        row = {column: compute(record) for compute, column in columns}
        for column, computes in extras.items():
            values = {keyword: value for compute, keyword in computes if (value := compute(record)) is not None}
            if values:
                row[column] = values
        return row

    return row_of


def _refusing(compute: Compute, passes: Check) -> Compute:
    """``compute``, raising :class:`ValueProblem` for a value that is not ``None`` and that ``passes`` refuses."""

    def refusing(record: Mapping[str, Any]) -> Any:
        value = compute(record)
        if value is not None and not passes(value):
            raise ValueProblem(REFUSED)
        return value

    return refusing


def _composer(parts: tuple[tuple[str, Reader | None], ...]) -> Reader:
    def compose(record: Mapping[str, Any]) -> str | None:
        text = []
        for literal, read in parts:
            text.append(literal)
            if read is not None:
                value = read(record)
                if is_empty(value):
                    return None
                text.append(str(value).strip())
        return "".join(text)

    return compose


def _bind(function: Callable[..., Any], kwargs: dict[str, Any]) -> Callable[[Any], Any]:
    return partial(function, **kwargs) if kwargs else function


def _unknown_target(name: str, otherwise: str = "the rich form is keyed by the worklist field") -> str:
    """Why ``name`` is no target: a did-you-mean when a worklist field is close, else ``otherwise``."""
    if name.startswith(EXTRA_PREFIX):
        return _unknown_extra(name)
    guess = suggest_target(name)
    return f"'{name}' is not a worklist field; " + (f"did you mean '{guess}'?" if guess else otherwise)


def _unknown_extra(name: str) -> str:
    return (f"'{name}' must be extra.<DICOM keyword> of an attribute that is no sequence or bulk data "
            "(VR SQ, OB, OW, UN...), e.g. extra.PatientState")
