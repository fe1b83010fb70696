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
        """A fresh `runs/<UTC timestamp>-<command>/` folder; a suffix keeps same-second runs apart."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        base = self.runs_dir / f"{stamp}-{command}"
        path, n = base, 1
        while path.exists():
            n += 1
            path = base.with_name(f"{base.name}-{n}")
        path.mkdir(parents=True)
        return path
