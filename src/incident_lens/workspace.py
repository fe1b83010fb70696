"""Where all state lives: one workspace directory (indexes, runs, caches).

Usage: `ws = Workspace(home)`; `ws.index_dir`, `ws.new_run_dir("label")`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ENV_HOME = "INCIDENT_LENS_HOME"
DEFAULT_HOME = ".incident-lens"


def default_home() -> Path:
    """`INCIDENT_LENS_HOME` if set, else `./.incident-lens` (relative to where the user works)."""
    return Path(os.environ.get(ENV_HOME) or DEFAULT_HOME).expanduser().absolute()


@dataclass(frozen=True)
class Workspace:
    home: Path

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    @property
    def tasks_dir(self) -> Path:
        return self.home / "tasks"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    def ensure(self) -> "Workspace":
        for path in (self.home, self.index_dir, self.runs_dir, self.cache_dir):
            path.mkdir(parents=True, exist_ok=True)
        return self

    def new_run_dir(self, command: str) -> Path:
        """A fresh `runs/<UTC timestamp>-<command>/` folder."""
        # Microseconds: runs started in the same second still sort by name in the order they started.
        while True:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
            path = self.runs_dir / f"{stamp}-{command}"
            try:
                path.mkdir(parents=True)
                return path
            except FileExistsError:
                continue  # same microsecond as another process: take the next one
