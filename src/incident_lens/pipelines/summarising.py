"""Batch summaries of reports with the local model: one JSON line per report, resumable, with provenance.

Usage: `summarise_file(settings, Path("incidents.csv"), Path("summaries.jsonl"), ids=["INC-0001"])`.
Each line: id, status, summary (five parts, each with text, evidence, evidence_verified), overall
evidence_verified, truncated, tokens and latency. Lines are flushed one by one; `resume=True` skips
ids already written. Without `text_cols` the text is every column of the file that is a known report
field (any task's input fields, or text / description / report / narrative / findings), joined under
their names; the manifest records which.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from incident_lens.errors import UserError
from incident_lens.inputs.report_files import DEFAULT_TEXT_COLUMNS, Table
from incident_lens.pipelines.output_files import BatchSummary, check_output, drop_partial_line, record_inputs
from incident_lens.pipelines.predicting import run_with_retries


def summarise_one(summariser, text: str, retries: int = 1) -> dict:
    """One report's JSON record (without its id) under DSPy's configured LM; errors go in `status`."""
    done = run_with_retries(lambda body: summariser(report=body), text, retries)
    p = done.prediction
    return {
        "status": done.status,
        "summary": p.parts if p is not None else None,
        "evidence_verified": bool(p.evidence_verified) if p is not None else False,
        "truncated": done.truncated,
        "prompt_tokens": done.prompt_tokens,
        "completion_tokens": done.completion_tokens,
        "latency_s": done.latency_s,
    }


def done_ids_jsonl(path: Path) -> set[str]:
    drop_partial_line(path)
    ids = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            ids.add(str(json.loads(line)["id"]))
        except (json.JSONDecodeError, KeyError, TypeError):
            raise UserError(f"{path}: line {number} is not a summary record; resume only a file written by "
                            "`incident-lens summarise`, or choose another --out") from None
    return ids


def known_text_fields(workspace) -> list[str]:
    """Every task's input fields (built-in and the user's), then the usual names of a report's text column."""
    from incident_lens.inputs.task_files import list_tasks

    fields = [name for task in list_tasks(workspace).values() for name in task.input_fields]
    return list(dict.fromkeys([*fields, *DEFAULT_TEXT_COLUMNS]))


def default_text_columns(columns: list[str], workspace, path: Path) -> list[str]:
    """The file's columns that are known report fields, in file order; a one-line error if there are none."""
    known = known_text_fields(workspace)
    chosen = [c for c in columns if c in known]
    if not chosen:
        raise UserError(f"{path}: no --text-col given and no column is a known report field ({', '.join(known)}); "
                        f"columns are: {', '.join(columns)}; choose the text with --text-col (repeatable)")
    return chosen


def summarise_file(settings, path: Path, out: Path, ids: list[str] | None = None, resume: bool = False,
                   limit: int | None = None, text_cols: list[str] | None = None, id_col: str | None = None,
                   server_url: str | None = None, allow_remote: bool = False,
                   progress: Callable[[int, int], None] | None = None, argv: list[str] | None = None,
                   sheet: str | None = None, program: Path | None = None) -> BatchSummary:
    """Summarise the reports of `path` (all, or `ids`) into the JSONL `out` (see the module docstring).
    `program`: a fine-tuned program file whose GGUF does the summarising (its labelling prompt is not used).
    The model is `settings.server` when set (or `server_url`), else the GGUF; the file is read with
    `settings.encoding` (`sheet`: the sheet of an .xlsx file)."""
    import dspy

    from incident_lens.llm import build_lm
    from incident_lens.provenance import RunRecord
    from incident_lens.inputs.report_files import load_reports
    from programs import Summariser
    from programs.adapter import ADAPTER

    workspace = settings.workspace.ensure()
    path, out = Path(path), Path(out)
    check_output(out, resume, ".jsonl")
    done = done_ids_jsonl(out) if resume and out.exists() else set()
    if not text_cols:
        text_cols = default_text_columns(Table(path, settings.encoding, sheet).columns, workspace, path)
    reports = load_reports(path, text_cols, id_col, max_chars=settings.max_chars, cache_dir=workspace.cache_dir,
                           encoding=settings.encoding, sheet=sheet)
    frame = reports.frame
    if ids:
        missing = [i for i in ids if i not in set(frame["id"])]
        if missing:
            raise UserError(f"{path}: id '{missing[0]}' not found in column '{reports.id_col}'")
        frame = frame[frame["id"].isin(ids)]
    frame = frame.head(limit) if limit else frame
    model_warnings = []
    if program is not None:
        from incident_lens.pipelines.compiled import settings_for_program

        own, model_warnings = settings_for_program(settings, program)
        if own is settings:
            raise UserError(f"--program {program}: not a fine-tuned program (no model of its own in its meta file); "
                            "summarise takes --program only to run a fine-tuned model")
        settings = own
    lm = build_lm(settings, server_url=server_url, allow_remote=allow_remote)
    summariser = Summariser()
    with RunRecord(workspace, "summarise", settings, argv) as run:
        record_inputs(run, lm, reports, path, None)
        run.set("program", {"name": "summariser", "builtin": True})
        run.set("columns", {"text": reports.text_cols, "id": reports.id_col})
        run.set("output", str(out.absolute()))
        run.count("skipped", int(frame["id"].isin(done).sum()) + reports.skipped_empty)
        todo = frame[~frame["id"].isin(done)]
        with out.open("a", encoding="utf-8") as handle, dspy.context(lm=lm, adapter=ADAPTER):
            if progress:
                progress(0, len(todo))
            for n, row in enumerate(todo.itertuples(index=False), start=1):
                record = summarise_one(summariser, row.text)
                record["truncated"] = record["truncated"] or bool(row.truncated)
                handle.write(json.dumps({"id": row.id, **record}, ensure_ascii=False) + "\n")
                handle.flush()
                run.count("ok" if record["status"] == "ok" else "error")
                run.count("truncated", int(record["truncated"]))
                run.count("prompt_tokens", record["prompt_tokens"])
                run.count("completion_tokens", record["completion_tokens"])
                if progress:
                    progress(n, len(todo))
        return BatchSummary(out, run.dir, dict(run.counts), len(frame), model_warnings + list(reports.warnings))
