"""Keeps report text out of logs written by libraries we call.

Usage: `withhold_text_in_library_logs()` once at import (done by `incident_lens/__init__.py`).

DSPy logs a whole example, report text included, when a call on it fails ("Error for
Example({'text': ...}): ..." from its parallel executor, "Failed to run or to evaluate example ..."
from bootstrapping). Records from those loggers keep their level and logger name but lose their
details, unless the user asks for text in logs with INCIDENT_LENS_LOG_TEXT=1.
"""

from __future__ import annotations

import logging
import os

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
