"""The files the batch jobs write: refusing to overwrite, resuming after a kill, the run's inputs and summary.

Usage: `check_output(out, resume, ".csv")`; `drop_partial_line(out)` before reading a resumed file;
`record_inputs(run, lm, reports, path, task)`; a job returns a `BatchSummary`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from incident_lens.errors import UserError
from incident_lens.inputs.task_files import Task


def drop_partial_line(path: Path) -> None:
    """A run killed mid-write can leave half a line; cut it so the file ends on a complete record."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)


def check_output(path: Path, resume: bool, suffix: str) -> None:
    if path.suffix.lower() != suffix:
        raise UserError(f"--out {path}: use a {suffix} file name")
    if path.exists() and path.stat().st_size > 0 and not resume:
        raise UserError(f"--out {path} already exists; add --resume to continue it, or choose another --out")


@dataclass
class BatchSummary:
    out: Path
    run_dir: Path
    counts: dict
    total: int
    warnings: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        lines = [f"warning: {w}" for w in self.warnings]
        return "\n".join([*lines, f"{self.total} report(s): {counts}; results in {self.out}; manifest in {self.run_dir / 'manifest.json'}"])


def record_inputs(run, lm, reports, path: Path, task: Task | None) -> None:
    """Input file, model and task (hashes and metadata) into the run's manifest."""
    from incident_lens.llm import model_record

    run.add_input("reports", path, reports.sha256)
    model = model_record(lm)
    if model.get("path") and model.get("sha256"):
        run.add_input("model", Path(model["path"]), model["sha256"])
    run.set("model", model)
    if task is not None:
        if task.source is not None:
            run.add_input("task", task.source, task.sha256)
        run.set("task", {"name": task.name, "kind": task.kind, "labels": task.label_names})
