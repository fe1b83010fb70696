"""Keeps report text out of logs written by libraries we call.

Usage: `withhold_text_in_library_logs()` once at import (done by `incident_lens/__init__.py`);
`logger.addHandler(ToUser())` on a library logger whose records are otherwise kept from the user.

DSPy logs a whole example, report text included, when a call on it fails ("Error for
Example({'text': ...}): ..." from its parallel executor, "Failed to run or to evaluate example ..."
from bootstrapping). Records from those loggers keep their level and logger name but lose their
details, unless the user asks for text in logs with INCIDENT_LENS_LOG_TEXT=1. `ToUser` shows other
records with the values formatted into them and any traceback withheld (`withheld`).
"""

from __future__ import annotations

import logging
import os
import re

LOG_TEXT_ENV = "INCIDENT_LENS_LOG_TEXT"
# The library loggers whose messages embed examples (checked in dspy 3.4's sources).
TEXT_LOGGERS = ("dspy.utils.parallelizer", "dspy.teleprompt.bootstrap")


def text_in_logs_allowed() -> bool:
    return os.environ.get(LOG_TEXT_ENV, "").strip().lower() in ("1", "true", "yes")


class WithholdText(logging.Filter):
    """Rewrites a record to a fixed message; the record is still logged, so failures stay visible."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not text_in_logs_allowed():
            record.msg = (f"{record.name}: a call on one example failed; details withheld because they may quote report text "
                          f"(set {LOG_TEXT_ENV}=1 to log them)")
            record.args = ()
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
        return True


def withhold_text_in_library_logs() -> None:
    """Idempotent: each logger gets one filter however often this runs."""
    for name in TEXT_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, WithholdText) for f in logger.filters):
            logger.addFilter(WithholdText())


# A %-conversion in a logging format string (`%s`, `%(name)s`, `%.3f`, ...).
_CONVERSION = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa]")


def withheld(record: logging.LogRecord) -> logging.LogRecord:
    """A copy of `record` that keeps the message's fixed wording and an exception's type, not the values
    formatted into it nor the traceback: those carry exceptions from model calls, which can quote the
    report. A message built with an f-string cannot be told apart; the loggers that embed examples that
    way are in TEXT_LOGGERS. With INCIDENT_LENS_LOG_TEXT=1 the copy is whole."""
    shown = logging.makeLogRecord(record.__dict__)
    if text_in_logs_allowed():
        return shown
    if not isinstance(shown.msg, str):
        shown.msg = f"{type(shown.msg).__name__} logged (details withheld)"
    elif shown.args:
        shown.msg = _CONVERSION.sub("[withheld]", shown.msg).replace("%%", "%")
    shown.args = ()
    if shown.exc_info and shown.exc_info[0] is not None:
        shown.msg += f" ({shown.exc_info[0].__name__}; details withheld)"
    shown.exc_info = shown.exc_text = shown.stack_info = None
    return shown


class ToUser(logging.Handler):
    """Shows records (WARNING and above) on DSPy's own stderr handler, as `withheld` copies: for library
    loggers that are otherwise kept from the user (the optimiser's progress line reads them)."""

    def __init__(self, level: int = logging.WARNING):
        super().__init__(level)

    def emit(self, record: logging.LogRecord) -> None:
        shown = withheld(record)
        handlers = logging.getLogger("dspy").handlers or [logging.lastResort]
        for handler in handlers:
            if handler is not None and shown.levelno >= handler.level:
                handler.handle(shown)
