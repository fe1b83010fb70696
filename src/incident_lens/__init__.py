"""incident-lens: offline search, labelling and summaries of free-text clinical and safety reports.

The offline guards are set here, before any third-party library can be imported through us.
"""

from incident_lens import offline as _offline
from incident_lens.workspace import default_home as _default_home

_offline.activate(_default_home())

__version__ = "0.1.0"
