"""`incident-lens demo`: the main job end to end on the bundled synthetic data.

Index the demo incidents, answer a few "have we seen this before?" questions, evaluate the baselines
on the demo gold sets and, when a GGUF model is configured, label and summarise a sample.
Usage: `run_demo(settings, console)`.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from incident_lens.errors import UserError
from incident_lens.progress import callback, job_progress
from incident_lens.provenance import RunRecord
from incident_lens.reports import load_reports
from incident_lens.task_files import find_task

DEMO_COLLECTION = "incidents"
META_COLUMNS = ["occurred_at", "care_setting", "specialty", "location", "category", "harm"]
# (question, filters): the kind of thing a reviewer asks of a new serious report.
EXAMPLE_SEARCHES = [
    ("patient found on floor beside bed, unwitnessed fall, no injury", {}),
    ("enoxaparin dose omitted", {}),
    ("infusion pump stopped after battery change with no alarm", {"since": "2026-09-01"}),
    ("patient became aggressive towards staff", {"where": {"harm": {"$ne": "No harm"}}}),
]


def demo_data_dir() -> Path:
    """`data/demo` of the checkout this package runs from, else of the working directory."""
    for base in (Path(__file__).resolve().parents[2], Path.cwd()):
        if (base / "data" / "demo" / "incidents.csv").is_file():
            return base / "data"
    raise UserError("demo data not found: run from the incident-lens checkout (data/demo/incidents.csv), "
                    "or regenerate it with `python data/make_demo.py`")


def run_demo(settings, console: Console, limit: int | None = None) -> dict:
    from retrieval.embedder import Embedder
    from retrieval.index import IncidentIndex

    workspace = settings.workspace.ensure()
    data_dir = demo_data_dir()
    task = find_task("incident-type", workspace)
    summary: dict = {}
    with RunRecord(workspace, "demo", settings) as run:
        path = data_dir / "demo" / "incidents.csv"
        reports = load_reports(path, text_cols=list(task.input_fields), id_col="id",
                               max_chars=settings.max_chars, cache_dir=workspace.cache_dir)
        run.add_input("incidents", path, reports.sha256)
        frame = reports.frame.head(limit) if limit else reports.frame
        console.print(f"[bold]1. Index[/] {len(frame)} demo incident reports from {path}")
        embedder = Embedder(settings.embedding_model, backend=settings.embedding_backend, batch_size=settings.batch_size)
        index = IncidentIndex.open(workspace.index_dir, DEMO_COLLECTION, embedder, writable=True)
        with job_progress(console) as progress:
            bar = progress.add_task("embedding", total=len(frame))
            result = index.add(frame, meta_cols=META_COLUMNS, progress=callback(progress, bar))
        console.print(f"   {result}")
        summary["index"] = result
        run.count("indexed", len(frame))

        console.print("[bold]2. Have we seen this before?[/]")
        for question, filters in EXAMPLE_SEARCHES:
            hits = index.query(question, k=3, **filters)
            console.print(f"   [cyan]{question}[/] {filters or ''}")
            for hit in hits:
                meta = hit.metadata
                console.print(f"     {hit.rank}. {hit.id} {hit.score:.3f} {meta.get('occurred_at', '')} "
                              f"{meta.get('category', '')} / {meta.get('harm', '')}: {hit.snippet}", soft_wrap=True, markup=False)
        run.count("searches", len(EXAMPLE_SEARCHES))
    return summary
