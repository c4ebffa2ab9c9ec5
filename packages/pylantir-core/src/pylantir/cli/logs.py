"""Logging of every ``pylantir`` command: our lines at the level ``-v`` asks for, libraries' only with ``-vv``.

Default: WARNING; ``-v``: INFO; ``-vv``: DEBUG, and only then the libraries below speak (pynetdicom's PDU
dumps, Alembic's setup lines, pydicom's value warnings, which quote values, i.e. patient data). ``pylantir
run`` logs at INFO at least: a server's operator needs its association and query lines.

``--log-format json`` writes one JSON object per line (``time``, ``level``, ``logger``, ``message``, and
``exception`` with the traceback when there is one) for log shippers.
"""

from __future__ import annotations

import json
import logging
import warnings
from datetime import UTC, datetime

LEVELS = (logging.WARNING, logging.INFO, logging.DEBUG)
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Libraries whose log lines are shown only with -vv, and from which level below that.
QUIET_LIBRARIES = {
    "pynetdicom": logging.CRITICAL,  # its errors repeat what our association lines say, with tracebacks
    "pydicom": logging.CRITICAL,  # its warnings quote the values they are about
    "alembic": logging.WARNING,
    "uvicorn": logging.WARNING,  # its start lines repeat ours; its access log is off (query strings hold patient data)
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "urllib3": logging.WARNING,
}


class QuietLibraries(logging.Filter):
    """Drops the :data:`QUIET_LIBRARIES`' records below their level (a library may reset its logger's level
    when imported, as pydicom does, so the handler filters too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether ``record`` is shown."""
        threshold = QUIET_LIBRARIES.get(record.name.partition(".")[0])
        return threshold is None or record.levelno >= threshold


_QUIET = QuietLibraries()
LOG_FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message`` [, ``exception``]."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(verbosity: int, log_format: str = "text") -> None:
    """Set up logging for one command run with ``verbosity`` ``-v`` flags, as ``text`` or ``json`` lines."""
    level = LEVELS[min(verbosity, len(LEVELS) - 1)]
    logging.basicConfig(level=level, format=FORMAT)
    quiet = level > logging.DEBUG
    for handler in logging.getLogger().handlers:
        (handler.addFilter if quiet else handler.removeFilter)(_QUIET)
        if log_format == "json":
            handler.setFormatter(JsonFormatter())
    if quiet:
        for name, library_level in QUIET_LIBRARIES.items():
            logging.getLogger(name).setLevel(library_level)
        warnings.filterwarnings("ignore", module=r"pydicom(\.|$)")
    else:
        logging.captureWarnings(True)


def log_at_least(level: int) -> None:
    """Lower the root level to ``level`` if it is higher (``pylantir run`` logs INFO by default)."""
    root = logging.getLogger()
    if root.level > level:
        root.setLevel(level)


def current_logging() -> tuple[int, str]:
    """How this process logs, as :func:`configure_logging`'s arguments (``-v`` count, format): a process it
    starts (the sync worker of ``pylantir run``) configures its logging alike."""
    root = logging.getLogger()
    level = root.level if root.level in LEVELS else logging.INFO
    json_lines = any(isinstance(handler.formatter, JsonFormatter) for handler in root.handlers)
    return LEVELS.index(level), "json" if json_lines else "text"
