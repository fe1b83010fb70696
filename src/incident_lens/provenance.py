"""Run provenance: every command that produces results writes `runs/<stamp>-<command>/manifest.json`.

Usage:
    with RunRecord(settings.workspace, "label", settings) as run:
        run.add_input("input", path, sha256); run.set("model", info.to_dict()); run.count("ok")
The manifest is rewritten atomically at start and at the end (status `ok`, `error` or `interrupted`),
so a killed run still leaves a manifest that says it did not finish. No report text goes in it.
"""

from __future__ import annotations

import json
import platform
import sys
from collections import Counter
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from incident_lens.workspace import Workspace

TRACKED_PACKAGES = (
    "incident-lens", "dspy", "llama_cpp_python", "chromadb", "sentence-transformers", "torch",
    "transformers", "gguf", "pandas", "scikit-learn", "scipy", "numpy",
)


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class RunRecord:
    def __init__(self, workspace: Workspace, command: str, settings=None, argv: list[str] | None = None):
        workspace.ensure()
        self.dir = workspace.new_run_dir(command)
        self.path = self.dir / "manifest.json"
        self.counts: Counter = Counter()
        self.data: dict = {
            "command": command,
            "argv": list(sys.argv if argv is None else argv),
            "config": settings.to_dict() if settings is not None else None,
            "inputs": {},
            "versions": library_versions(),
            "started_at": _now(),
            "ended_at": None,
            "status": "running",
        }

    def add_input(self, role: str, path: Path, sha256: str) -> None:
        self.data["inputs"][role] = {"path": str(Path(path).absolute()), "sha256": sha256}

    def set(self, key: str, value) -> None:
        self.data[key] = value

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] += n

    def write(self) -> None:
        self.data["counts"] = dict(self.counts)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, default=str), encoding="utf-8")
        tmp.replace(self.path)

    def __enter__(self) -> "RunRecord":
        self.write()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.data["ended_at"] = _now()
        if exc_type is None:
            self.data["status"] = "ok"
        elif issubclass(exc_type, KeyboardInterrupt):
            self.data["status"] = "interrupted"
        else:
            # The type only: messages can quote input text.
            self.data["status"] = f"error: {exc_type.__name__}"
        self.write()
