"""How the DICOM handlers log a failure they answer with a status: one line, no patient data.

An exception's text may quote what was being processed (a database error quotes the SQL parameters, that
is a query's values or a patient's name), so the line above DEBUG names only the exception's class; the
traceback with the full text is logged at DEBUG (``pylantir -vv``).
"""

from __future__ import annotations

import logging


def log_failure(logger: logging.Logger, level: int, exc: BaseException, message: str, *args: object) -> None:
    """Log ``message % args`` at ``level`` with the exception's class, and its traceback at DEBUG."""
    logger.log(level, message + " (%s; traceback at DEBUG level)", *args, type(exc).__name__)
    logger.debug("traceback of: " + message, *args, exc_info=exc)
