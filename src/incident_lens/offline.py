"""Offline guards: environment settings that keep every library off the network.

Imported by `incident_lens/__init__.py` before any third-party import; `activate(home)` is called
again when `--home` moves the workspace, before DSPy is imported.
"""

from __future__ import annotations

import os
from pathlib import Path

# Values that must hold for the process to be offline. Forced, not defaulted: a TRE user who
# exported HF_HUB_OFFLINE=0 by habit must still not reach a hub.
FORCED = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    # litellm (pulled in by dspy) fetches a price map from the internet at import unless this is set.
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    # Chroma's product telemetry (posthog).
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def activate(home: Path) -> None:
    """Set the offline variables and point the caches of DSPy and HF into the workspace."""
    os.environ.update(FORCED)
    cache = Path(home) / "cache"
    os.environ["DSPY_CACHEDIR"] = str(cache / "dspy")
    os.environ["HF_HOME"] = str(cache / "hf")


def status() -> dict[str, bool]:
    """Which guards hold in this process (for `incident-lens doctor`)."""
    checks = {name: os.environ.get(name) == value for name, value in FORCED.items()}
    checks["DSPY_CACHEDIR in workspace"] = bool(os.environ.get("DSPY_CACHEDIR"))
    return checks
