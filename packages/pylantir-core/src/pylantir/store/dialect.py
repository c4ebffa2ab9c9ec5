"""The SQL that differs between database engines, behind operations the DICOM matcher asks for.

``dicom/`` builds conditions from :class:`SqlOperations` (a wild-card match, a case-folded compare, an
expression no index serves) and never looks at the engine's name; :func:`operations_for` picks the
implementation of an engine, and :func:`prepare_sqlite_connection` gives every SQLite connection the
functions those operations call.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, Engine, func, literal

#: The SQLite function folding case the Unicode way (SQLite's own ``lower()`` folds ASCII only).
SQLITE_FOLD_FUNCTION = "pylantir_casefold"
#: DICOM's value delimiter: how a column holding several values stores them.
DELIMITER = "\\"


def _casefold(value: str | None) -> str | None:
    return value.casefold() if value is not None else None


def prepare_sqlite_connection(dbapi_connection: Any) -> None:
    """Register the functions :class:`SqliteOperations` uses on one new SQLite connection."""
    dbapi_connection.create_function(SQLITE_FOLD_FUNCTION, 1, _casefold, deterministic=True)


class SqlOperations:
    """Conditions and expressions in standard SQL (PostgreSQL); :class:`SqliteOperations` overrides some."""

    def folded(self, expression: Any) -> Any:
        """``expression`` case-folded, for case-insensitive compares (``Müller`` like ``MÜLLER``)."""
        return func.lower(expression)

    def wildcard(self, expression: Any, pattern: str, *, fold: bool = False) -> ColumnElement[bool]:
        """``expression`` matches the DICOM wild-card ``pattern`` (``*`` any run, ``?`` one character).

        Every other character, SQL's own wild cards included, is matched literally; ``fold`` ignores case.
        """
        like = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = like.replace("*", "%").replace("?", "_")
        if fold:
            return self.folded(expression).like(self.folded(like), escape="\\")
        return expression.like(like, escape="\\")

    def has_value(self, expression: Any, value: str) -> ColumnElement[bool]:
        """A column holding several values (``A\\B``) holds ``value`` as one of them (compared exactly)."""
        return self._position(_delimited(expression), f"{DELIMITER}{value}{DELIMITER}") > 0

    def has_value_matching(self, expression: Any, pattern: str) -> ColumnElement[bool]:
        """One of the values of a column holding several (``A\\B``) matches the DICOM wild-card ``pattern``."""
        one_value = "".join(
            "[^\\\\]*" if char == "*" else "[^\\\\]" if char == "?" else re.escape(char) for char in pattern
        )
        return expression.regexp_match(f"(^|\\\\){one_value}(\\\\|$)")

    def _position(self, text: Any, part: str) -> Any:
        """Where ``part`` first occurs in ``text`` (1-based; 0 when it does not)."""
        return func.strpos(text, part)

    def unindexed(self, expression: Any) -> Any:
        """``expression`` in a form no index serves, so that the planner drives the query by another one.

        For columns with few distinct values: without statistics, SQLite would otherwise pick an index on
        them over the selective scheduled start range.
        """
        return expression.concat("")


class SqliteOperations(SqlOperations):
    """SQLite: Unicode case folding through a registered function; GLOB, as its LIKE ignores ASCII case;
    ``instr`` for ``strpos``. (SQLAlchemy gives SQLite connections the ``regexp`` function.)"""

    def _position(self, text: Any, part: str) -> Any:
        """``instr``: where ``part`` first occurs in ``text``."""
        return func.instr(text, part)

    def folded(self, expression: Any) -> Any:
        """``expression`` folded by :data:`SQLITE_FOLD_FUNCTION`."""
        return getattr(func, SQLITE_FOLD_FUNCTION)(expression)

    def wildcard(self, expression: Any, pattern: str, *, fold: bool = False) -> ColumnElement[bool]:
        """A GLOB match: case-sensitive as DICOM wants, and case-insensitive through folding both sides."""
        glob = pattern.replace("[", "[[]")
        if fold:
            return self.folded(expression).op("GLOB")(self.folded(glob))
        return expression.op("GLOB")(glob)


def _delimited(expression: Any) -> Any:
    """``\\`` + ``expression`` + ``\\``: every value between two delimiters."""
    return literal(DELIMITER).concat(expression).concat(DELIMITER)


def operations_for(engine: Engine) -> SqlOperations:
    """The :class:`SqlOperations` of ``engine``'s database."""
    return SqliteOperations() if engine.dialect.name == "sqlite" else SqlOperations()
