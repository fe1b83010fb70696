"""`incident-lens demo`: the main job end to end on the bundled synthetic data.

Index the demo incidents, answer a few "have we seen this before?" questions, evaluate the baselines
on the demo gold sets and, when a GGUF model is configured, label and summarise a sample and add the
LLM programs to the evaluation. Usage: `run_demo(settings, console)`.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from incident_lens.errors import UserError
from incident_lens.progress import callback, job_progress
from incident_lens.provenance import RunRecord

DEMO_COLLECTION = "incidents"
TEXT_COLUMNS = ["description", "actions", "causes"]
META_COLUMNS = ["occurred_at", "care_setting", "specialty", "location", "category", "harm"]
SHOWN_FIELDS = ["category", "harm"]
# (question, filters): what a reviewer asks of a new serious report.
EXAMPLE_SEARCHES = [
    ("patient found on floor beside bed, unwitnessed fall, no injury", {}),
    ("enoxaparin dose omitted", {}),
    ("infusion pump stopped after battery change with no alarm", {"since": "2026-09-01"}),
    ("patient became aggressive towards staff", {"where": {"harm": {"$ne": "No harm"}}}),
]
# A CPU demo with a real model must stay short: label and summarise a sample, score a slice.
LLM_LABELS, LLM_SUMMARIES, LLM_EVAL_ROWS = 20, 3, 20


def demo_data_dir() -> Path:
    """`data/` of the checkout this package runs from, else of the working directory."""
    for base in (Path(__file__).resolve().parents[2], Path.cwd()):
        if (base / "data" / "demo" / "incidents.csv").is_file():
            return base / "data"
    raise UserError("demo data not found: run from the incident-lens checkout (data/demo/incidents.csv), "
                    "or regenerate it with `python data/make_demo.py`")


def _index_step(settings, console: Console, incidents: Path, limit: int | None):
    from incident_lens.indexing import index_file

    console.print(f"[bold]1. Index[/] demo incident reports from {incidents}")
    with job_progress(console) as progress:
        bar = progress.add_task("embedding", total=None)
        result = index_file(settings, incidents, text_cols=TEXT_COLUMNS, id_col="id", meta_cols=META_COLUMNS,
                            collection=DEMO_COLLECTION, date_col="occurred_at", limit=limit, progress=callback(progress, bar))
    console.print(f"   {result.summary}")
    return result


def _search_step(settings, console: Console) -> int:
    from incident_lens.cli_search import print_hits_table
    from incident_lens.indexing import open_index

    console.print("[bold]2. Have we seen this before?[/] (hybrid search: embeddings + BM25)")
    with open_index(settings, DEMO_COLLECTION) as index:
        for question, filters in EXAMPLE_SEARCHES:
            hits = index.query(question, k=3, **filters)
            print_hits_table(hits, SHOWN_FIELDS, index.date_field, f"{question!r} {filters or ''}", "hybrid")
    return len(EXAMPLE_SEARCHES)


def _evaluation_step(settings, console: Console, with_llm: bool) -> dict:
    from incident_lens.evaluation import evaluate_demo

    what = "baselines and LLM programs" if with_llm else "baselines"
    console.print(f"[bold]3. Evaluate[/] {what} on the demo gold sets")
    with job_progress(console) as progress:
        summary = evaluate_demo(settings, progress=progress, limit=LLM_EVAL_ROWS if with_llm else None)
    table = Table("task", "method", "macro-F1", "95% CI", "accuracy", "kappa", title="demo evaluation (test split)")
    for task, result in summary.items():
        for method, scores in result["methods"].items():
            ci = scores.get("ci95") or {}
            low, high = (ci.get("macro_f1") or [None, None])[:2] if isinstance(ci, dict) else (None, None)
            table.add_row(task, Path(method).name, _fmt(scores.get("macro_f1")),
                          f"{_fmt(low)}-{_fmt(high)}" if low is not None else "", _fmt(scores.get("accuracy")), _fmt(scores.get("kappa")))
    console.print(table)
    for task, result in summary.items():
        console.print(f"   {task}: best {result['best']}; report {result['report']}")
    return summary


def _fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else ""


def _llm_step(settings, console: Console, incidents: Path) -> dict:
    from incident_lens.summarising import llm_demo

    console.print(f"[bold]4. Label and summarise[/] with {settings.model_path.name}: "
                  f"{LLM_LABELS} reports (incident-type, zero-shot) and {LLM_SUMMARIES} summaries")
    out_dir = settings.workspace.home / "demo-llm"
    with job_progress(console) as progress:
        def progress_for(description: str):
            return callback(progress, progress.add_task(description, total=None))

        results = llm_demo(settings, incidents, out_dir, n_labels=LLM_LABELS, n_summaries=LLM_SUMMARIES, progress_for=progress_for)
    for name, batch in results.items():
        console.print(f"   {name}: {batch.counts} -> {batch.out}")
    return results


def run_demo(settings, console: Console, limit: int | None = None) -> dict:
    workspace = settings.workspace.ensure()
    incidents = demo_data_dir() / "demo" / "incidents.csv"
    summary: dict = {}
    with RunRecord(workspace, "demo", settings) as run:
        indexed = _index_step(settings, console, incidents, limit)
        run.add_input("incidents", incidents, indexed.reports.sha256)
        run.count("indexed", len(indexed.reports) if not limit else min(limit, len(indexed.reports)))
        run.count("searches", _search_step(settings, console))
        with_llm = settings.model_path is not None
        evaluation = _evaluation_step(settings, console, with_llm)
        run.set("evaluation", {task: result["methods"] for task, result in evaluation.items()})
        summary.update(index=indexed.summary, evaluation=evaluation)
        if with_llm:
            summary["llm"] = _llm_step(settings, console, incidents)
        else:
            console.print("[bold]4. Label and summarise[/] [yellow]skipped: no GGUF model configured.[/] "
                          "Labelling, summaries and the LLM rows of the evaluation need one: "
                          "`incident-lens demo --model PATH.gguf` (or model_path in incident-lens.toml). "
                          "No model here? `incident-lens dev make-gguf tiny.gguf` writes a random-weight test model "
                          "that exercises the whole path (its labels are noise).")
    console.print(f"done: run record {run.path}")
    return summary
