"""Evaluation commands: `evaluate` (methods against a gold set) and `optimise` (compile a program)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from incident_lens.cli.app import ALLOW_REMOTE, CONFIDENCE_SAMPLES, ENCODING, SERVER, SERVER_MODEL, SHEET, server_options
from incident_lens.errors import UserError

console = Console()
FORMATS = ("table", "json")


def _print_headline(evaluation) -> None:
    from rich.markup import escape

    from incident_lens.scoring.evaluation_report import headline_rows, recommendation

    table = Table("method", "macro-F1 [95% CI]", "micro-F1 [95% CI]", "accuracy [95% CI]", "kappa", "n", "no answer", "s",
                  title=f"{evaluation.task.name}: {len(evaluation.test)} test reports, {len(evaluation.train)} train")
    for row in headline_rows(evaluation):
        table.add_row(*row.values())
    console.print(table)
    console.print(escape(recommendation(evaluation)), soft_wrap=True)


def evaluate(
    ctx: typer.Context,
    task: str = typer.Option(..., "--task", help="Task name or task file."),
    gold: Path = typer.Option(..., "--gold", help="Gold file (CSV/TSV/Parquet/JSONL/XLSX) with the report fields and the task's label column(s)."),
    method: List[str] = typer.Option(..., "--method", help="tfidf-lr, embed-lr, knn, zero-shot, rag, a compiled program .json, or a student folder from distil (repeatable)."),
    train: Optional[Path] = typer.Option(None, "--train", help="Train file for the baselines; GOLD is then all test. Default: GOLD's recorded split."),
    model: Optional[Path] = typer.Option(None, "--model", help="GGUF model for zero-shot, rag and compiled programs (default: the bundled SmolLM2-135M-Instruct)."),
    chat_template: Optional[str] = typer.Option(None, "--chat-template", help="Chat template: chatml, gemma, llama3, mistral, phi3, or a Jinja file (default: the GGUF's own; needed for a GGUF without one)."),
    report: Optional[Path] = typer.Option(None, "--report", help="Folder for metrics.json, predictions.csv, plots and report.md (default: the run folder)."),
    fmt: str = typer.Option("table", "--format", help="table or json."),
    split: Optional[Path] = typer.Option(None, "--split", help="Split record to use or create (default: <workspace>/splits/<task>--<gold>.split.json)."),
    split_seed: Optional[int] = typer.Option(None, "--split-seed", help="Seed of a new split (default: the seed setting)."),
    text_col: Optional[List[str]] = typer.Option(None, "--text-col", help="Text column(s) (default: the task's input fields)."),
    id_col: Optional[str] = typer.Option(None, "--id-col", help="Id column (default: id)."),
    knn_k: Optional[int] = typer.Option(None, "--knn-k", help="Train reports that vote in the knn baseline (default: the knn_k setting, 10)."),
    rag_k: Optional[int] = typer.Option(None, "--rag-k", help="Labelled train reports shown in each rag prompt (default: the rag_k setting, 4)."),
    old_k: Optional[int] = typer.Option(None, "--k", hidden=True),
    min_support: int = typer.Option(5, "--min-support", help="findings: gold positives a finding needs to count in macro/micro-F1."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads for the model (0: all cores)."),
    allow_overlap: bool = typer.Option(False, "--allow-overlap", help="Score a compiled program whose demos or train rows overlap the test rows (refused otherwise), under a warning in report.md and the manifest."),
    encoding: Optional[str] = ENCODING,
    sheet: Optional[str] = SHEET,
    server: Optional[str] = SERVER,
    server_model: Optional[str] = SERVER_MODEL,
    allow_remote_server: bool = ALLOW_REMOTE,
    confidence_samples: Optional[int] = CONFIDENCE_SAMPLES,
) -> None:
    """Score methods against gold labels: one comparison table, and a report folder."""
    from incident_lens.cli.app import settings_from
    from incident_lens.pipelines.evaluation import evaluate as run_evaluation
    from incident_lens.progress import job_progress
    from incident_lens.provenance import RunRecord
    from incident_lens.scoring.evaluation_report import recommendation, write_report
    from incident_lens.inputs.task_files import find_task

    if fmt not in FORMATS:
        raise UserError(f"--format {fmt}: use one of {', '.join(FORMATS)}")
    if old_k is not None:
        raise UserError("--k is now two options: --knn-k (neighbours that vote in the knn baseline) and "
                        "--rag-k (examples shown in each rag prompt)")
    settings = settings_from(ctx, model_path=model, chat_template=chat_template, knn_k=knn_k, rag_k=rag_k, threads=threads,
                             encoding=encoding, confidence_samples=confidence_samples,
                             **server_options(server, server_model, allow_remote_server))
    workspace = settings.workspace.ensure()
    the_task = find_task(task, workspace)
    with RunRecord(workspace, "evaluate", settings) as run:
        run.add_input("task", the_task.source, the_task.sha256)
        with job_progress(console if fmt == "table" else Console(stderr=True)) as progress:
            evaluation = run_evaluation(the_task, gold, list(method), settings, train_path=train, split_path=split,
                                        split_seed=split_seed, text_cols=text_col or None, id_col=id_col, sheet=sheet,
                                        progress=progress, min_support=min_support, allow_overlap=allow_overlap)
        run.add_input("gold", evaluation.test.path, evaluation.test.sha256)
        if train is not None:
            run.add_input("train", evaluation.train.path, evaluation.train.sha256)
        out_dir = report or run.dir
        written = write_report(evaluation, out_dir)
        run.set("methods", evaluation.summary())
        overlaps = {m.name: m.details["overlap"] for m in evaluation.methods if m.details.get("overlap")}
        if overlaps:
            run.set("overlap", overlaps)  # paths, counts and seeds only, never report text
        run.set("report_dir", str(Path(out_dir).absolute()))
        run.count("test_rows", len(evaluation.test))
    if fmt == "json":
        typer.echo(json.dumps({"task": the_task.name, "methods": evaluation.summary(),
                               "report": {k: str(v) for k, v in written.items()}, "warnings": evaluation.warnings,
                               "recommendation": recommendation(evaluation)}, indent=2))
        return
    _print_headline(evaluation)
    for warning in evaluation.warnings:
        console.print(f"[yellow]warning[/]: {warning}", soft_wrap=True)
    console.print(f"report: {written['report']}")


def _fmt_dev(scores: dict | None) -> str:
    if not scores:
        return "-"
    macro = "-" if scores.get("macro_f1") is None else f"{scores['macro_f1']:.3f}"
    return f"metric {scores['metric']:.3f}, macro-F1 {macro}, accuracy {scores['accuracy']:.3f} (n={scores['n']}, no answer {scores['no_answer']})"


def optimise(
    ctx: typer.Context,
    task: str = typer.Option(..., "--task", help="Task name or task file."),
    gold: Path = typer.Option(..., "--gold", help="Gold file; compiles on its recorded train split, scores on dev."),
    optimizer: str = typer.Option(..., "--optimizer", help="labeled, bootstrap, random-search, mipro-light, knn, or finetune "
                                  "(trains the GGUF's weights on CPU and writes a new GGUF beside --out)."),
    model: Optional[Path] = typer.Option(None, "--model", help="GGUF model (default: the bundled SmolLM2-135M-Instruct; needed by all but labeled and knn; without one dev is not scored)."),
    chat_template: Optional[str] = typer.Option(None, "--chat-template", help="Chat template: chatml, gemma, llama3, mistral, phi3, or a Jinja file (default: the GGUF's own; needed for a GGUF without one)."),
    program: str = typer.Option("zero-shot", "--program", help="zero-shot or rag."),
    out: Optional[Path] = typer.Option(None, "--out", help="Compiled program file (default: optimized/<task>.json); <name>.meta.json is written beside it."),
    split: Optional[Path] = typer.Option(None, "--split", help="Split record to use or create (default: <workspace>/splits/<task>--<gold>.split.json)."),
    split_seed: Optional[int] = typer.Option(None, "--split-seed", help="Seed of a new split (default: the seed setting)."),
    text_col: Optional[List[str]] = typer.Option(None, "--text-col", help="Text column(s) (default: the task's input fields)."),
    id_col: Optional[str] = typer.Option(None, "--id-col", help="Id column (default: id)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads for the model (0: all cores)."),
    rag_k: Optional[int] = typer.Option(None, "--rag-k", help="With --program rag: labelled train reports shown in each prompt (default: the rag_k setting, 4)."),
    encoding: Optional[str] = ENCODING,
    sheet: Optional[str] = SHEET,
    server: Optional[str] = SERVER,
    server_model: Optional[str] = SERVER_MODEL,
    allow_remote_server: bool = ALLOW_REMOTE,
    epochs: int = typer.Option(2, "--epochs", help="finetune: passes over the train split."),
    lr: float = typer.Option(5e-5, "--lr", help="finetune: AdamW learning rate."),
    max_minutes: Optional[float] = typer.Option(None, "--max-minutes", help="finetune: stop training after this long, write the "
                                                "model so far and keep a checkpoint (the same command continues it)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="finetune: seed of the example order (default: the seed setting)."),
    batch_size: int = typer.Option(8, "--batch-size", help="finetune: examples per optimiser step."),
    quant: str = typer.Option("f16", "--quant", help="finetune: f16 or q8_0 weights in the written GGUF."),
    instructions: str = typer.Option("brief", "--instructions", help="finetune: brief (task and label names; the weights learn "
                                     "the definitions; a third of the tokens) or program (the full label definitions)."),
    reports: Optional[Path] = typer.Option(None, "--reports", help="finetune: with --gold a labels file written by `label` "
                                           "(pseudo-labels), the report file it labelled."),
    dev_limit: int = typer.Option(0, "--dev-limit", help="finetune: score only the first N dev reports before and after (0: all)."),
) -> None:
    """Compile a labelling program against a gold set and save it (with a meta file saying how)."""
    from incident_lens.cli.app import settings_from

    if optimizer == "finetune":
        from incident_lens.cli.finetune import run_finetune

        settings = settings_from(ctx, model_path=model, chat_template=chat_template, threads=threads, encoding=encoding,
                                 **server_options(server, server_model, allow_remote_server))
        run_finetune(settings, task, gold, out, program=program, epochs=epochs, lr=lr, max_minutes=max_minutes, seed=seed,
                     batch_size=batch_size, quant=quant, instructions=instructions, split=split, split_seed=split_seed,
                     text_col=text_col, id_col=id_col, sheet=sheet, dev_limit=dev_limit or None, reports=reports)
        return
    from incident_lens.pipelines.optimising import optimise as run_optimise
    from incident_lens.progress import job_progress
    from incident_lens.provenance import RunRecord
    from incident_lens.inputs.task_files import find_task

    settings = settings_from(ctx, model_path=model, chat_template=chat_template, threads=threads, rag_k=rag_k,
                             encoding=encoding, **server_options(server, server_model, allow_remote_server))
    workspace = settings.workspace.ensure()
    the_task = find_task(task, workspace)
    with RunRecord(workspace, "optimise", settings) as run:
        run.add_input("task", the_task.source, the_task.sha256)
        with job_progress(console) as progress:
            result = run_optimise(the_task, gold, settings, optimizer, program, out, split_path=split, split_seed=split_seed,
                                  text_cols=text_col or None, id_col=id_col, progress=progress, sheet=sheet)
        meta = result.meta
        run.add_input("gold", gold, meta["gold"]["sha256"])
        run.set("optimizer", optimizer)
        run.set("program", program)
        run.set("dev_before", meta["dev_before"])
        run.set("dev_after", meta["dev_after"])
        run.set("output", str(result.path.absolute()))
        run.count("lm_calls", meta["lm_calls"])
    for warning in result.warnings:
        console.print(f"[yellow]warning[/]: {warning}", soft_wrap=True)
    console.print(f"dev before: {_fmt_dev(meta['dev_before'])}" if meta["dev_before"] else f"dev: {meta['dev_note']}")
    if meta["dev_after"]:
        console.print(f"dev after:  {_fmt_dev(meta['dev_after'])}")
    console.print(f"{meta['demos']} demo(s), {meta['lm_calls']} LM call(s), {meta['seconds']} s")
    console.print(f"wrote {result.path} and {result.meta_path}")
    if meta["contains_source_text"]:
        console.print("[yellow]the compiled file quotes report text (its demos): if the gold set is real data, it must not leave the TRE[/]")


def register(app: typer.Typer) -> None:
    app.command()(evaluate)
    app.command()(optimise)
