"""incident-lens: offline search, labelling and summaries of free-text clinical and safety reports.

The offline guards are set here, before any third-party library can be imported through us, and
library loggers known to quote report text are muted.
"""

from incident_lens import offline as _offline
from incident_lens.log_privacy import withhold_text_in_library_logs as _withhold_text_in_library_logs
from incident_lens.workspace import default_home as _default_home

_offline.activate(_default_home())
_withhold_text_in_library_logs()

__version__ = "0.1.0"
