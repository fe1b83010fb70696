"""The demo's LLM-era steps as plain functions that return data (the console work is in demo.py).

Usage:
    optimised = optimise_demo(settings, "harm", out_dir, dev_rows=8)          # dev score before / after
    summary = evaluate_demo(settings, limit=8, compiled={"harm": optimised.path})
    outputs = llm_demo(settings, incidents, out_dir, n_labels=5, n_summaries=2)
Everything runs on the bundled demo data; with no model (yours or the bundled default) only the
baselines are evaluated.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from incident_lens.errors import UserError
from incident_lens.llm.default_model import available_model_path

DEMO_TASKS = ("incident-type", "harm", "cxr-findings")
LLM_METHODS = ("zero-shot", "rag")


def demo_data_dir() -> Path:
    """`data/` of the checkout this package runs from, else of the working directory."""
    for base in (Path(__file__).resolve().parents[3], Path.cwd()):
        if (base / "data" / "demo" / "incidents.csv").is_file():
            return base / "data"
    raise UserError("demo data not found: run from the incident-lens checkout (data/demo/incidents.csv), "
                    "or regenerate it with `python data/make_demo.py`")


def repo_optimized_dir() -> Path:
    """`optimized/` of the checkout this package runs from (where the compiled demo programs ship)."""
    return Path(__file__).resolve().parents[3] / "optimized"


def optimise_demo(settings, task_name: str, out_dir: Path, optimizer: str = "labeled", dev_rows: int | None = None,
                  progress=None, lm=None):
    """Compile one program on a demo gold set's train split, scored on (the first `dev_rows` of) dev."""
    from incident_lens.inputs.splits import default_split_path
    from incident_lens.inputs.task_files import find_task
    from incident_lens.pipelines.optimising import optimise

    workspace = settings.workspace.ensure()
    task = find_task(task_name, workspace)
    gold_path = demo_data_dir() / "gold" / f"{task_name}.csv"
    return optimise(task, gold_path, settings, optimizer, "zero-shot", out=Path(out_dir) / f"{task_name}.json",
                    split_path=default_split_path(workspace, task, gold_path), progress=progress, lm=lm, dev_limit=dev_rows)


def evaluate_demo(settings, progress=None, out_dir: Path | None = None, limit: int | dict[str, int] | None = None,
                  tasks: tuple[str, ...] = DEMO_TASKS, compiled: dict[str, Path] | None = None, lm=None) -> dict:
    """Evaluate on the demo gold sets and write one report per task; the summary is for the console.

    Baselines always; with a model (yours, else the bundled default), also zero-shot, rag and a compiled
    program: `compiled[task]` if given, else the one shipped in `optimized/<task>.json`. `limit` (one N,
    or N per task) scores only the first N test rows of each task (every method on the same rows), to
    keep an LLM demo on a CPU short; findings are then averaged over those with at least one positive
    among those rows (the report says so). Reports go to `out_dir` (default `<workspace>/reports/demo-evaluation/<task>/`).
    """
    from incident_lens.inputs.gold import load_sets
    from incident_lens.inputs.splits import default_split_path
    from incident_lens.inputs.task_files import find_task
    from incident_lens.pipelines.baselines import BASELINES
    from incident_lens.pipelines.evaluation import evaluate_sets, make_embedder
    from incident_lens.scoring.evaluation_report import write_report
    from incident_lens.scoring.scores import MIN_SUPPORT

    workspace = settings.workspace.ensure()
    gold_dir = demo_data_dir() / "gold"
    out_dir = Path(out_dir or workspace.home / "reports" / "demo-evaluation")
    embedder = make_embedder(settings)
    with_llm = lm is not None or available_model_path(settings) is not None
    summary: dict = {}
    for name in tasks:
        task = find_task(name, workspace)
        methods = list(BASELINES)
        if with_llm:
            if lm is None:
                from incident_lens.llm import build_lm

                lm = build_lm(settings)
            methods += list(LLM_METHODS)
            program = Path((compiled or {}).get(name) or repo_optimized_dir() / f"{name}.json")
            if program.is_file():
                methods.append(str(program))
        gold_path = gold_dir / f"{name}.csv"
        train, _dev, test, split = load_sets(task, gold_path, settings, split_path=default_split_path(workspace, task, gold_path))
        all_test_rows = len(test)
        rows = limit.get(name) if isinstance(limit, dict) else limit
        min_support = MIN_SUPPORT
        if rows:
            test = test.subset(test.ids[:rows])
            # A few rows hold fewer than MIN_SUPPORT positives of any finding: average over what is there.
            min_support = 1
        evaluation = evaluate_sets(task, train, test, split, methods, settings, progress, embedder, lm, min_support)
        written = write_report(evaluation, out_dir / name)
        best = evaluation.best()
        summary[name] = {"report": str(written["report"]), "best": best.name if best else None,
                         "test_rows": len(evaluation.test), "all_test_rows": all_test_rows,
                         "methods": evaluation.summary(), "warnings": evaluation.warnings}
    return summary


def llm_demo(settings, incidents: Path, out_dir: Path, n_labels: int = 5, n_summaries: int = 2, program: str = "zero-shot",
             progress_for: Callable[[str], Callable[[int, int], None]] | None = None) -> dict:
    """Label the first `n_labels` demo incidents (incident-type) and summarise the first `n_summaries`.

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
