"""`incident-lens demo`: the main job end to end on the bundled synthetic data.

Index the demo incidents, answer a few "have we seen this before?" questions, evaluate the baselines
on the demo gold sets and, with a GGUF model (yours, else the bundled SmolLM2-135M-Instruct when
installed), label and summarise a sample and add the LLM programs to the evaluation. Usage: `run_demo(settings, console)`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from incident_lens.errors import UserError
from incident_lens.llm.default_model import PIP_INSTALL, available_model_path, resolve_model_path
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
    for base in (Path(__file__).resolve().parents[3], Path.cwd()):
        if (base / "data" / "demo" / "incidents.csv").is_file():
            return base / "data"
    raise UserError("demo data not found: run from the incident-lens checkout (data/demo/incidents.csv), "
                    "or regenerate it with `python data/make_demo.py`")


def _index_step(settings, console: Console, incidents: Path, limit: int | None):
    from incident_lens.pipelines.indexing import index_file

    console.print(f"[bold]1. Index[/] demo incident reports from {incidents}")
    with job_progress(console) as progress:
        bar = progress.add_task("embedding", total=None)
        result = index_file(settings, incidents, text_cols=TEXT_COLUMNS, id_col="id", meta_cols=META_COLUMNS,
                            collection=DEMO_COLLECTION, date_col="occurred_at", limit=limit, progress=callback(progress, bar))
    console.print(f"   {result.summary}")
    return result


def _search_step(settings, console: Console) -> int:
    from incident_lens.display import print_hits_table
    from incident_lens.pipelines.indexing import open_index

    console.print("[bold]2. Have we seen this before?[/] (hybrid search: embeddings + BM25)")
    with open_index(settings, DEMO_COLLECTION) as index:
        for question, filters in EXAMPLE_SEARCHES:
            hits = index.query(question, k=3, **filters)
            print_hits_table(hits, SHOWN_FIELDS, index.date_field, f"{question!r} {filters or ''}", "hybrid")
    return len(EXAMPLE_SEARCHES)


def _evaluation_step(settings, console: Console, with_llm: bool) -> dict:

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

    console.print(f"[bold]4. Label and summarise[/] with {resolve_model_path(settings).name}: "
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
    from dataclasses import replace

    settings = replace(settings, encoding="utf-8")  # the bundled data is UTF-8, whatever encoding the config sets
    workspace = settings.workspace.ensure()
    incidents = demo_data_dir() / "demo" / "incidents.csv"
    summary: dict = {}
    with RunRecord(workspace, "demo", settings) as run:
        indexed = _index_step(settings, console, incidents, limit)
        run.add_input("incidents", incidents, indexed.reports.sha256)
        run.count("indexed", len(indexed.reports) if not limit else min(limit, len(indexed.reports)))
        run.count("searches", _search_step(settings, console))
        with_llm = available_model_path(settings) is not None
        evaluation = _evaluation_step(settings, console, with_llm)
        run.set("evaluation", {task: result["methods"] for task, result in evaluation.items()})
        summary.update(index=indexed.summary, evaluation=evaluation)
        if with_llm:
            summary["llm"] = _llm_step(settings, console, incidents)
        else:
            console.print("[bold]4. Label and summarise[/] [yellow]skipped: no GGUF model configured, "
                          "and the default SmolLM2-135M-Instruct is not installed.[/] "
                          "Labelling, summaries and the LLM rows of the evaluation need one: "
                          f"`{PIP_INSTALL}`, or `incident-lens demo --model PATH.gguf` (or model_path in incident-lens.toml). "
                          "No model here? `incident-lens dev make-gguf tiny.gguf` writes a random-weight test model "
                          "that exercises the whole path (its labels are noise).")
    console.print(f"done: run record {run.path}")
    return summary


DEMO_TASKS = ("incident-type", "harm", "cxr-findings")


def repo_optimized_dir() -> Path:
    """`optimized/` of the checkout this package runs from (where the compiled demo programs ship)."""
    return Path(__file__).resolve().parents[3] / "optimized"


def evaluate_demo(settings, progress=None, out_dir: Path | None = None, limit: int | None = None,
                  tasks: tuple[str, ...] = DEMO_TASKS) -> dict:
    """Evaluate on the demo gold sets and write one report per task; the summary is for the console.

    Baselines always; with a model (yours, else the bundled default), also the zero-shot program and the compiled program
    shipped in `optimized/<task>.json`. `limit` scores only the first N test rows of each task (all
    methods on the same rows), to keep an LLM demo on a CPU short. Reports go to `out_dir`
    (default `<workspace>/reports/demo-evaluation/<task>/`).
    """
    from incident_lens.inputs.gold import load_sets
    from incident_lens.inputs.splits import default_split_path
    from incident_lens.inputs.task_files import find_task
    from incident_lens.pipelines.baselines import BASELINES
    from incident_lens.pipelines.evaluation import evaluate_sets, evaluate, make_embedder
    from incident_lens.scoring.evaluation_report import write_report

    workspace = settings.workspace.ensure()
    gold_dir = demo_data_dir() / "gold"
    out_dir = Path(out_dir or workspace.home / "reports" / "demo-evaluation")
    embedder = make_embedder(settings)
    lm = None
    summary: dict = {}
    with_llm = available_model_path(settings) is not None
    for name in tasks:
        task = find_task(name, workspace)
        methods = list(BASELINES)
        if with_llm:
            if lm is None:
                from incident_lens.llm import build_lm

                lm = build_lm(settings)
            methods.append("zero-shot")
            compiled = repo_optimized_dir() / f"{name}.json"
            if compiled.is_file():
                methods.append(str(compiled))
        gold_path = gold_dir / f"{name}.csv"
        split_path = default_split_path(workspace, task, gold_path)
        if limit:
            train, _dev, test, split = load_sets(task, gold_path, settings, split_path=split_path)
            test = test.subset(test.ids[:limit])
            evaluation = evaluate_sets(task, train, test, split, methods, settings, progress, embedder, lm)
        else:
            evaluation = evaluate(task, gold_path, methods, settings, split_path=split_path, progress=progress,
                                  embedder=embedder, lm=lm)
        written = write_report(evaluation, out_dir / name)
        best = evaluation.best()
        summary[name] = {"report": str(written["report"]), "best": best.name if best else None,
                         "test_rows": len(evaluation.test), "methods": evaluation.summary(), "warnings": evaluation.warnings}
    return summary


def llm_demo(settings, incidents: Path, out_dir: Path, n_labels: int = 20, n_summaries: int = 3, program: str = "zero-shot",
             progress_for: Callable[[str], Callable[[int, int], None]] | None = None) -> dict:
    """The demo's LLM step: label the first `n_labels` demo incidents (incident-type) and summarise `n_summaries`.

    Outputs go to `out_dir/labels.csv` and `out_dir/summaries.jsonl`; a re-run continues them (resume).
    `progress_for(description)` may give a `(done, total)` callback per step. Returns both BatchSummary's.
    """
    from incident_lens.pipelines.labelling import label_file
    from incident_lens.pipelines.summarising import summarise_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    labels = label_file(settings, incidents, "incident-type", out_dir / "labels.csv", program=program, resume=True,
                        limit=n_labels, progress=progress_for("labelling") if progress_for else None)
    summaries = summarise_file(settings, incidents, out_dir / "summaries.jsonl", resume=True, limit=n_summaries,
                               text_cols=["description", "actions", "causes"],
                               progress=progress_for("summarising") if progress_for else None)
    return {"labels": labels, "summaries": summaries}
