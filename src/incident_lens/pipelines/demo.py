"""`incident-lens demo`: the main job end to end on the bundled synthetic data, printed for a person.

Index the demo incidents, answer a few "have we seen this before?" questions, show what is new or growing
(themes and the emerging test; the planted failure mode comes first), then with a language model
(yours, else the bundled SmolLM2-135M-Instruct): compile one program and show its dev score before and
after, evaluate the baselines beside zero-shot, rag and a compiled program on every demo task, label and
summarise a few reports with their evidence, and say which method wins. Without a model, the baselines.
Usage: `run_demo(settings, console)`. The steps that return data are in `demo_steps.py`.
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from incident_lens.llm.default_model import PIP_INSTALL, available_model_path, resolve_model_path
from incident_lens.pipelines.demo_steps import demo_data_dir, evaluate_demo, llm_demo, optimise_demo
from incident_lens.pipelines.demo_themes import themes_step
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
# A CPU demo with a real model must stay around ten minutes on 2 cores: every LLM method is scored on
# the same first rows of each test split, the optimiser's dev score on a few dev rows, and only a few
# reports are labelled and summarised. The reports say how many rows each figure rests on.
# cxr-findings answers 14 statuses per report (about 10 s each with SmolLM2 on 2 cores), so it gets fewer rows.
LLM_EVAL_ROWS = {"incident-type": 6, "harm": 8, "cxr-findings": 8}
OPTIMISE_DEV_ROWS, LLM_LABELS, LLM_SUMMARIES = 8, 4, 2
OPTIMISED_TASK = "harm"


def _fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "undefined" if value is None else str(value)


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


def _optimise_step(settings, console: Console, lm) -> object:
    console.print(f"[bold]3. Optimise[/] a program for '{OPTIMISED_TASK}': labelled few-shot demos from the train split, "
                  f"scored on {OPTIMISE_DEV_ROWS} dev reports before and after")
    with job_progress(console) as progress:
        result = optimise_demo(settings, OPTIMISED_TASK, settings.workspace.home / "demo-optimized",
                               dev_rows=OPTIMISE_DEV_ROWS, progress=progress, lm=lm)
    before, after = result.meta.get("dev_before") or {}, result.meta.get("dev_after") or {}
    console.print(f"   dev macro-F1 {_fmt(before.get('macro_f1'))} -> {_fmt(after.get('macro_f1'))}, "
                  f"task metric {_fmt(before.get('metric'))} -> {_fmt(after.get('metric'))} "
                  f"(n = {after.get('n', before.get('n'))} dev reports; this few rows show direction, not proof)")
    console.print(f"   compiled program: {result.path} ({result.meta.get('demos')} demos)")
    return result


def _evaluation_step(settings, console: Console, with_llm: bool, compiled: dict, lm) -> dict:
    what = "baselines, zero-shot, rag and a compiled program" if with_llm else "baselines"
    step = 4 if with_llm else 3
    console.print(f"[bold]{step}. Evaluate[/] {what} on the demo gold sets"
                  + (" (the first few test reports of each, every method on the same rows)" if with_llm else ""))
    with job_progress(console) as progress:
        summary = evaluate_demo(settings, progress=progress, limit=LLM_EVAL_ROWS if with_llm else None,
                                compiled=compiled, lm=lm)
    table = Table("task", "method", "macro-F1", "95% CI", "accuracy", "kappa", "s / 1,000 reports", title="demo evaluation (test split)")
    for task, result in summary.items():
        for method, scores in result["methods"].items():
            ci = (scores.get("ci95") or {}).get("macro_f1") or [None, None]
            per_1000 = scores["seconds"] / max(scores.get("n") or 1, 1) * 1000
            table.add_row(task, Path(method).name, _fmt(scores.get("macro_f1")),
                          f"{_fmt(ci[0])}-{_fmt(ci[1])}" if ci[0] is not None else "", _fmt(scores.get("accuracy")),
                          _fmt(scores.get("kappa")), f"{per_1000:,.0f}")
    console.print(table)
    for task, result in summary.items():
        console.print(f"   {task}: {_verdict(result)}; report {result['report']}")
    return summary


def _verdict(result: dict) -> str:
    """Which method wins on this task, and which others its 95 % interval cannot tell apart from it."""
    methods = result["methods"]
    best = result["best"]
    if best is None:
        return "no method could be scored"
    low = ((methods[best].get("ci95") or {}).get("macro_f1") or [None])[0]
    ties = [name for name, scores in methods.items() if name != best and low is not None
            and scores.get("macro_f1") is not None and scores["macro_f1"] >= low]
    rows = f"{result['test_rows']} of {result['all_test_rows']} test reports"
    tied = f"; within its 95 % interval: {', '.join(Path(t).name for t in ties)}" if ties else "; no other method within its 95 % interval"
    return f"best {Path(best).name} (macro-F1 {_fmt(methods[best].get('macro_f1'))} on {rows}){tied}"


def _llm_step(settings, console: Console, incidents: Path) -> dict:
    console.print(f"[bold]5. Label and summarise[/] with {resolve_model_path(settings).name}: "
                  f"{LLM_LABELS} reports (incident-type, zero-shot) and {LLM_SUMMARIES} summaries")
    out_dir = settings.workspace.home / "demo-llm"
    with job_progress(console) as progress:
        def progress_for(description: str):
            return callback(progress, progress.add_task(description, total=None))

        results = llm_demo(settings, incidents, out_dir, n_labels=LLM_LABELS, n_summaries=LLM_SUMMARIES, progress_for=progress_for)
    _print_labels(console, results["labels"].out)
    _print_summaries(console, results["summaries"].out)
    for name, batch in results.items():
        console.print(f"   {name}: {batch.counts} -> {batch.out}")
    return results


def _print_labels(console: Console, path: Path) -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            mark = "verified" if row["evidence_verified"] == "true" else "NOT verified"
            console.print(f"   [cyan]{escape(row['id'])}[/] -> [bold]{escape(row['label'] or row['status'])}[/] "
                          f"(evidence {mark})", soft_wrap=True)
            for quote in json.loads(row["evidence"] or "[]"):
                console.print(f"      “{escape(quote)}”", soft_wrap=True)


def _print_summaries(console: Console, path: Path) -> None:
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        console.print(f"   [cyan]{escape(record['id'])}[/] summary ({record['status']}; evidence "
                      f"{'verified' if record['evidence_verified'] else 'NOT verified'}):", soft_wrap=True)
        for part, body in (record.get("summary") or {}).items():
            quotes = "; ".join(f"“{q}”" for q in body["evidence"])
            console.print(f"      {part}: {escape(body['text'])}" + (f"  [dim]{escape(quotes)}[/]" if quotes else ""), soft_wrap=True)


def run_demo(settings, console: Console, limit: int | None = None) -> dict:
    settings = replace(settings, encoding="utf-8")  # the bundled data is UTF-8, whatever encoding the config sets
    workspace = settings.workspace.ensure()
    incidents = demo_data_dir() / "demo" / "incidents.csv"
    summary: dict = {}
    with RunRecord(workspace, "demo", settings) as run:
        indexed = _index_step(settings, console, incidents, limit)
        run.add_input("incidents", incidents, indexed.reports.sha256)
        run.count("indexed", len(indexed.reports) if not limit else min(limit, len(indexed.reports)))
        run.count("searches", _search_step(settings, console))
        summary["emerging"] = themes_step(settings, console, DEMO_COLLECTION)
        run.set("emerging_top", summary["emerging"].signals[0].to_dict() if summary["emerging"] is not None else None)
        with_llm = settings.server is not None or available_model_path(settings) is not None
        lm, compiled = None, {}
        if with_llm:
            from incident_lens.llm import build_lm

            lm = build_lm(settings)
            optimised = _optimise_step(settings, console, lm)
            compiled[OPTIMISED_TASK] = optimised.path
            run.set("optimisation", {"task": OPTIMISED_TASK, "dev_before": optimised.meta.get("dev_before"),
                                     "dev_after": optimised.meta.get("dev_after")})
        evaluation = _evaluation_step(settings, console, with_llm, compiled, lm)
        run.set("evaluation", {task: result["methods"] for task, result in evaluation.items()})
        summary.update(index=indexed.summary, evaluation=evaluation)
        if with_llm:
            summary["llm"] = _llm_step(settings, console, incidents)
        else:
            console.print("[bold]4. Label and summarise[/] [yellow]skipped: no GGUF model configured, "
                          "and the default SmolLM2-135M-Instruct is not installed.[/] "
                          "Labelling, summaries and the LLM rows of the evaluation need one: "
                          f"`{PIP_INSTALL}`, or `incident-lens demo --model PATH.gguf` (or model_path in incident-lens.toml).")
    console.print(f"done: run record {run.path}")
    return summary
