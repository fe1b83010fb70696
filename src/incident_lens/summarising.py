"""Batch summaries of reports with the local model: one JSON line per report, resumable, with provenance.

Usage: `summarise_file(settings, Path("incidents.csv"), Path("summaries.jsonl"), ids=["INC-0001"])`.
Each line: id, status, summary (five parts, each with text, evidence, evidence_verified), overall
evidence_verified, truncated, tokens and latency. Lines are flushed one by one; `resume=True` skips
ids already written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from incident_lens.errors import UserError
from incident_lens.labelling import BatchSummary, check_output, drop_partial_line, record_inputs, run_program


def summarise_one(summariser, text: str, retries: int = 1) -> dict:
    """One report's JSON record (without its id) under DSPy's configured LM; errors go in `status`."""
    done = run_program(lambda body: summariser(report=body), text, retries)
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


def summarise_file(settings, path: Path, out: Path, ids: list[str] | None = None, resume: bool = False,
                   limit: int | None = None, text_cols: list[str] | None = None, id_col: str | None = None,
                   server_url: str | None = None, allow_remote: bool = False,
                   progress: Callable[[int, int], None] | None = None, argv: list[str] | None = None) -> BatchSummary:
    import dspy

    from incident_lens.llm import build_lm
    from incident_lens.provenance import RunRecord
    from incident_lens.reports import load_reports
    from programs import Summariser
    from programs.adapter import ADAPTER

    workspace = settings.workspace.ensure()
    path, out = Path(path), Path(out)
    check_output(out, resume, ".jsonl")
    done = done_ids_jsonl(out) if resume and out.exists() else set()
    reports = load_reports(path, text_cols, id_col, max_chars=settings.max_chars, cache_dir=workspace.cache_dir)
    frame = reports.frame
    if ids:
        missing = [i for i in ids if i not in set(frame["id"])]
        if missing:
            raise UserError(f"{path}: id '{missing[0]}' not found in column '{reports.id_col}'")
        frame = frame[frame["id"].isin(ids)]
    frame = frame.head(limit) if limit else frame
    lm = build_lm(settings, server_url=server_url, allow_remote=allow_remote)
    summariser = Summariser()
    with RunRecord(workspace, "summarise", settings, argv) as run:
        record_inputs(run, lm, reports, path, None)
        run.set("program", {"name": "summariser", "builtin": True})
        run.set("output", str(out.absolute()))
        run.count("skipped", int(frame["id"].isin(done).sum()))
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
        return BatchSummary(out, run.dir, dict(run.counts), len(frame))


def llm_demo(settings, incidents: Path, out_dir: Path, n_labels: int = 20, n_summaries: int = 3, program: str = "zero-shot",
             progress_for: Callable[[str], Callable[[int, int], None]] | None = None) -> dict:
    """The demo's LLM step: label the first `n_labels` demo incidents (incident-type) and summarise `n_summaries`.

    Outputs go to `out_dir/labels.csv` and `out_dir/summaries.jsonl`; a re-run continues them (resume).
    `progress_for(description)` may give a `(done, total)` callback per step. Returns both BatchSummary's.
    """
    from incident_lens.labelling import label_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    labels = label_file(settings, incidents, "incident-type", out_dir / "labels.csv", program=program, resume=True,
                        limit=n_labels, progress=progress_for("labelling") if progress_for else None)
    summaries = summarise_file(settings, incidents, out_dir / "summaries.jsonl", resume=True, limit=n_summaries,
                               text_cols=["description", "actions", "causes"],
                               progress=progress_for("summarising") if progress_for else None)
    return {"labels": labels, "summaries": summaries}
