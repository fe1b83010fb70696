"""LLM commands: `label` and `summarise` (batch runs on a local GGUF model, or a model server with --server)
and `dev make-gguf` (test models).

Usage:
    incident-lens label incidents.csv --task incident-type --model model.gguf --out labels.csv [--resume]
    incident-lens summarise incidents.csv --id INC-0042 --model model.gguf --out summaries.jsonl
    incident-lens dev make-gguf tiny.gguf --size tiny
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

from incident_lens.cli.app import ALLOW_REMOTE, CONFIDENCE_SAMPLES, ENCODING, SERVER, SERVER_MODEL, SHEET, server_options

console = Console()

_MODEL = typer.Option(None, "--model", help="GGUF model file (default: model_path in incident-lens.toml, else the bundled SmolLM2-135M-Instruct).")
_CHAT_TEMPLATE = typer.Option(None, "--chat-template", help="Chat template: chatml, gemma, llama3, mistral, phi3, or a Jinja file (default: the GGUF's own; needed for a GGUF without one).")
_THREADS = typer.Option(None, "--threads", help="CPU threads for llama.cpp (0: all cores).")
_N_CTX = typer.Option(None, "--n-ctx", help="Context window in tokens (prompt + answer; default: the model's trained context, at most 8192).")
_TEXT_COL = typer.Option(None, "--text-col", help="Text column (repeatable; default: the task's input fields).")
_ID_COL = typer.Option(None, "--id-col", help="Id column (default: id, report_id or incident_id).")
_RESUME = typer.Option(False, "--resume", help="Continue an interrupted run: keep --out and skip ids already in it.")
_LIMIT = typer.Option(0, "--limit", help="Only the first N reports of the file (0: all).")


def _run_with_progress(description: str, job):
    """Run `job(progress_callback)`; the bar appears with the first report, after the inputs are checked."""
    from incident_lens.progress import job_progress

    progress, bar = job_progress(console), None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            progress.start()
            bar = progress.add_task(description, total=total)
        progress.update(bar, completed=done, total=total)

    try:
        return job(update)
    finally:
        if bar is not None:
            progress.stop()


def label(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="Report file: .csv, .tsv, .parquet, .jsonl or .xlsx."),
    task: str = typer.Option(..., "--task", help="Task name (see `incident-lens tasks`) or task file."),
    out: Path = typer.Option(..., "--out", help="Output CSV: one row per report."),
    model: Optional[Path] = _MODEL,
    chat_template: Optional[str] = _CHAT_TEMPLATE,
    program: str = typer.Option("zero-shot", "--program", help="zero-shot, rag (needs an index built with --meta LABEL_COLUMN, "
                                "and context room for the examples: 8192 tokens, the default for models trained on that much), "
                                "a compiled program optimized/FILE.json, or a student folder written by distil (streamed, classifier speed)."),
    collection: str = typer.Option("incidents", "--collection", help="Index of labelled reports for --program rag."),
    rag_k: Optional[int] = typer.Option(None, "--rag-k", "-k", help="Labelled examples shown in each prompt with --program rag "
                                        "(default: the rag_k setting, 4)."),
    resume: bool = _RESUME,
    limit: int = _LIMIT,
    text_col: Optional[List[str]] = _TEXT_COL,
    id_col: Optional[str] = _ID_COL,
    threads: Optional[int] = _THREADS,
    n_ctx: Optional[int] = _N_CTX,
    encoding: Optional[str] = ENCODING,
    sheet: Optional[str] = SHEET,
    server: Optional[str] = SERVER,
    server_model: Optional[str] = SERVER_MODEL,
    allow_remote_server: bool = ALLOW_REMOTE,
    confidence_samples: Optional[int] = CONFIDENCE_SAMPLES,
) -> None:
    """Label every report with the local model: labels, verbatim evidence (checked), rationale, status."""
    from incident_lens.cli.app import settings_from
    from incident_lens.pipelines.labelling import label_file

    settings = settings_from(ctx, model_path=model, chat_template=chat_template, threads=threads, n_ctx=n_ctx,
                             rag_k=rag_k, encoding=encoding, confidence_samples=confidence_samples,
                             **server_options(server, server_model, allow_remote_server))
    summary = _run_with_progress("labelling", lambda progress: label_file(
        settings, path, task, out, program=program, resume=resume, limit=limit or None, text_cols=text_col or None,
        id_col=id_col, collection=collection, sheet=sheet, progress=progress, argv=sys.argv))
    console.print(str(summary), markup=False, soft_wrap=True)


def summarise(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="Report file: .csv, .tsv, .parquet, .jsonl or .xlsx."),
    out: Path = typer.Option(..., "--out", help="Output JSONL: one summary per line."),
    report_id: Optional[List[str]] = typer.Option(None, "--id", help="Only this report id (repeatable)."),
    model: Optional[Path] = _MODEL,
    chat_template: Optional[str] = _CHAT_TEMPLATE,
    resume: bool = _RESUME,
    limit: int = _LIMIT,
    text_col: Optional[List[str]] = typer.Option(None, "--text-col", help="Text column (repeatable; default: every column that is "
                                                 "a known report field: any task's input field, or text, description, report, "
                                                 "narrative, findings)."),
    id_col: Optional[str] = _ID_COL,
    threads: Optional[int] = _THREADS,
    n_ctx: Optional[int] = _N_CTX,
    encoding: Optional[str] = ENCODING,
    sheet: Optional[str] = SHEET,
    server: Optional[str] = SERVER,
    server_model: Optional[str] = SERVER_MODEL,
    allow_remote_server: bool = ALLOW_REMOTE,
    program: Optional[Path] = typer.Option(None, "--program", help="A fine-tuned program .json (optimise --optimizer finetune): "
                                           "its own GGUF writes the summaries."),
) -> None:
    """Summarise reports for a reviewer: what happened, outcome, factors, actions, checks, each with evidence."""
    from incident_lens.cli.app import settings_from
    from incident_lens.pipelines.summarising import summarise_file

    settings = settings_from(ctx, model_path=model, chat_template=chat_template, threads=threads, n_ctx=n_ctx,
                             encoding=encoding, **server_options(server, server_model, allow_remote_server))
    summary = _run_with_progress("summarising", lambda progress: summarise_file(
        settings, path, out, ids=report_id or None, resume=resume, limit=limit or None, text_cols=text_col or None,
        id_col=id_col, sheet=sheet, progress=progress, argv=sys.argv, program=program))
    console.print(str(summary), markup=False, soft_wrap=True)


dev_app = typer.Typer(help="Developer tools: test models for tests and benchmarks.", no_args_is_help=True)


@dev_app.command("make-gguf")
def make_gguf(
    out: Path = typer.Argument(..., help="Where to write the .gguf file."),
    size: str = typer.Option("tiny", "--size", help="tiny (tests, < 1 MB), small, or 1b (benchmarks, ~1.1 GB Q8_0)."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the weights."),
    quant: Optional[str] = typer.Option(None, "--quant", help="f32, f16 or q8_0 (default: per size)."),
) -> None:
    """Write a llama GGUF with random weights, a real BPE tokenizer and a chat template (outputs are noise)."""
    from incident_lens.llm.gguf_writer import write_test_gguf

    with console.status(f"writing {size} model"):
        path = write_test_gguf(out, size=size, seed=seed, quant=quant)
    console.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)", markup=False)


def register(app: typer.Typer) -> None:
    app.command()(label)
    app.command()(summarise)
    app.add_typer(dev_app, name="dev")
