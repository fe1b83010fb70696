"""Distillation commands: `distil` (train a fast student on gold / pseudo-labels) and `review-queue` (rank suspect labels).

Usage:
    incident-lens distil --task harm --gold gold.csv --labels labels.csv --reports reports.csv --student tfidf-lr --out students/harm
    incident-lens review-queue --task harm --labels labels.csv --reports reports.csv --gold gold.csv --out queue.csv
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

from incident_lens.cli.app import ENCODING, SHEET

console = Console()

_TASK = typer.Option(..., "--task", help="Task name or task file.")
_GOLD = typer.Option(None, "--gold", help="Gold file (the task's label column(s)); its recorded test split is held out.")
_LABELS = typer.Option(None, "--labels", help="Pseudo-labels: a CSV written by `incident-lens label` (rows with status other than ok are left out).")
_REPORTS = typer.Option(None, "--reports", help="The report file the --labels were made from (their texts).")
_TEXT_COL = typer.Option(None, "--text-col", help="Text column(s) (default: the task's input fields).")
_ID_COL = typer.Option(None, "--id-col", help="Id column (default: id).")


def distil(
    ctx: typer.Context,
    task: str = _TASK,
    out: Path = typer.Option(..., "--out", help="New folder for the student (model files and meta.json)."),
    student: str = typer.Option("tfidf-lr", "--student", help="tfidf-lr, embed-lr or encoder (MiniLM fine-tuned on CPU)."),
    gold: Optional[Path] = _GOLD,
    labels: Optional[Path] = _LABELS,
    reports: Optional[Path] = _REPORTS,
    corrections: Optional[Path] = typer.Option(None, "--corrections", help="A review queue whose 'corrected' cells replace labels (weighted as gold)."),
    gold_weight: Optional[float] = typer.Option(None, "--gold-weight", help="Weight of gold and reviewed rows against pseudo-labels (1) (default 2)."),
    holdout: Optional[float] = typer.Option(None, "--holdout", help="Without --gold: share of pseudo-labelled rows held out to score agreement (default 0.2)."),
    epochs: int = typer.Option(4, "--epochs", help="encoder: passes over the training rows."),
    max_length: int = typer.Option(128, "--max-length", help="encoder: tokens per report seen in training and labelling."),
    split: Optional[Path] = typer.Option(None, "--split", help="Split record of --gold (default: the one evaluate uses)."),
    text_col: Optional[List[str]] = _TEXT_COL,
    id_col: Optional[str] = _ID_COL,
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads for torch (0: all cores)."),
    encoding: Optional[str] = ENCODING,
    sheet: Optional[str] = SHEET,
) -> None:
    """Train a fast student on gold and/or pseudo-labels; `label --program DIR` and `evaluate --method DIR` use it."""
    from incident_lens.cli.app import settings_from
    from incident_lens.inputs.task_files import find_task
    from incident_lens.pipelines.distil import distil as run_distil
    from incident_lens.progress import job_progress
    from incident_lens.provenance import RunRecord

    settings = settings_from(ctx, threads=threads, encoding=encoding)
    workspace = settings.workspace.ensure()
    the_task = find_task(task, workspace)
    with RunRecord(workspace, "distil", settings, sys.argv) as run:
        with job_progress(console) as progress:
            bar = None

            def update(done: int, total: int) -> None:
                nonlocal bar
                bar = bar if bar is not None else progress.add_task("training", total=total)
                progress.update(bar, completed=done, total=total)

            result = run_distil(settings, the_task, student, out, gold_path=gold, labels_path=labels, reports_path=reports,
                                corrections_path=corrections, gold_weight=gold_weight, holdout=holdout,
                                text_cols=text_col or None, id_col=id_col, split_path=split, epochs=epochs,
                                max_length=max_length, sheet=sheet, progress=update)
        meta = result.meta
        for role, record in meta["data"].items():
            if record and record.get("sha256"):
                run.add_input(role, Path(record["path"]), record["sha256"])
        run.set("student", {"kind": student, "folder": str(result.folder.absolute()), "held_out": meta["held_out"].get("scores")})
        run.set("counts", meta["counts"])
    for note in result.notes:
        console.print(f"note: {note}", markup=False, soft_wrap=True)
    held = meta["held_out"]
    if held.get("scores"):
        s = held["scores"]
        macro = "-" if s["macro_f1"] is None else f"{s['macro_f1']:.3f}"
        console.print(f"held out ({held['what']}, {held['rows']} rows): macro-F1 {macro}, accuracy {s['accuracy']:.3f}",
                      markup=False)
    else:
        console.print(f"held out: {held.get('note')}", markup=False)
    counts = ", ".join(f"{k} {v}" for k, v in meta["counts"].items())
    console.print(f"trained {student} on {meta['train_rows']} rows ({counts}) in {meta['train_seconds']} s; wrote {result.folder}",
                  markup=False)


def review_queue(
    ctx: typer.Context,
    task: str = _TASK,
    out: Path = typer.Option(..., "--out", help="Queue CSV to write (never overwritten)."),
    labels: Optional[Path] = _LABELS,
    reports: Optional[Path] = _REPORTS,
    gold: Optional[Path] = _GOLD,
    student: Optional[Path] = typer.Option(None, "--student", help="A student folder (from distil) whose disagreements are flagged too."),
    oof_student: str = typer.Option("tfidf-lr", "--oof-student", help="tfidf-lr or embed-lr: the model behind the out-of-fold probabilities."),
    folds: int = typer.Option(5, "--folds", help="Cross-validation folds for the out-of-fold probabilities."),
    limit: int = typer.Option(0, "--limit", help="Write only the top N flagged reports (0: all)."),
    text_col: Optional[List[str]] = _TEXT_COL,
    id_col: Optional[str] = _ID_COL,
    encoding: Optional[str] = ENCODING,
    sheet: Optional[str] = SHEET,
) -> None:
    """Rank suspect labels (cleanlab on out-of-fold probabilities; gold / LLM / student disagreements) into a review queue."""
    from incident_lens.cli.app import settings_from
    from incident_lens.inputs.task_files import find_task
    from incident_lens.pipelines.review_queue import review_queue as run_queue
    from incident_lens.provenance import RunRecord

    settings = settings_from(ctx, encoding=encoding)
    workspace = settings.workspace.ensure()
    the_task = find_task(task, workspace)
    with RunRecord(workspace, "review-queue", settings, sys.argv) as run:
        with console.status("cross-validating and ranking"):
            result = run_queue(settings, the_task, out, gold_path=gold, labels_path=labels, reports_path=reports,
                               student_dir=student, oof_student=oof_student, folds=folds, text_cols=text_col or None,
                               id_col=id_col, sheet=sheet, limit=limit or None)
        run.set("output", str(result.out.absolute()))
        run.count("checked", result.checked)
        run.count("queued", result.queued)
        run.set("flagged_by", result.flagged_by)
    console.print(str(result), markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command()(distil)
    app.command("review-queue")(review_queue)
