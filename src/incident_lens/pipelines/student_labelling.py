"""Labelling a report file with a student (a folder written by `distil`): streamed, chunk by chunk, resumable.

Usage: `label_file_with_student(settings, Path("all.csv"), task, Path("labels.csv"), Path("students/harm"))`
(`label_file(..., program="students/harm")` comes here). The file is validated in one pass holding
only its ids, then read, labelled and written 8,192 reports at a time, so memory stays flat however
long the file; each chunk is flushed when written, and `resume=True` skips the ids already in `out`.
Texts are built from the columns the student learnt from (`text_cols` in its meta.json) unless
`text_cols` says otherwise. Rows have the same columns as an LLM run's: the label(s), the student's `confidence`, no evidence
(`evidence_verified` false), status ok, no tokens, and the chunk's time per report as `latency_s`.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

from incident_lens.inputs.task_files import Task
from incident_lens.pipelines.output_files import BatchSummary
from incident_lens.pipelines.predicting import LabelResult


def label_file_with_student(settings, path: Path, task: Task | str, out: Path, student_dir: Path, resume: bool = False,
                            limit: int | None = None, text_cols: list[str] | None = None, id_col: str | None = None,
                            progress=None, argv: list[str] | None = None, sheet: str | None = None) -> BatchSummary:
    from incident_lens.hashing import file_sha256
    from incident_lens.inputs.report_files import open_reports
    from incident_lens.pipelines.labelling import prepare_output, result_row
    from incident_lens.provenance import RunRecord
    from incident_lens.students import load_student
    from incident_lens.students.store import META_FILE, student_predict

    workspace, task, header, done = prepare_output(settings, task, out, resume)
    path, out = Path(path), Path(out)
    student, meta = load_student(student_dir, task, settings)
    # The student learnt texts built from these columns (joined under their names when several): label the same form.
    text_cols = text_cols or meta.get("text_cols") or list(task.input_fields)
    reports = open_reports(path, text_cols, id_col, max_chars=settings.max_chars,
                           encoding=settings.encoding, cache_dir=workspace.cache_dir, limit=limit, sheet=sheet)
    with RunRecord(workspace, "label", settings, argv) as run:
        run.add_input("reports", path, reports.sha256)
        run.add_input("student", Path(student_dir) / META_FILE, file_sha256(Path(student_dir) / META_FILE))
        run.set("program", {"name": str(student_dir), "kind": "student", "student": meta["student"],
                            "held_out": (meta.get("held_out") or {}).get("scores")})
        run.set("task", {"name": task.name, "kind": task.kind, "labels": task.label_names})
        run.set("output", str(out.absolute()))
        run.count("skipped", len(done) + reports.skipped_empty)
        total = len(reports) - len(done)
        new_file = not out.exists() or out.stat().st_size == 0
        finished = 0
        with out.open("a", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            if new_file:
                writer.writerow(header)
                handle.flush()
            if progress:
                progress(0, total)
            for chunk in reports.chunks([]):
                chunk = chunk[~chunk["id"].isin(done)]
                if not len(chunk):
                    continue
                started = time.perf_counter()
                labels, confidence = student_predict(student, chunk["text"].tolist())
                per_report = (time.perf_counter() - started) / len(chunk)
                for report_id, label, conf, truncated in zip(chunk["id"], labels, confidence, chunk["truncated"]):
                    value = list(label) if task.kind == "multi" else label
                    result = LabelResult(value, [], False, "", "ok", 0, 0, per_report, bool(truncated), [], 0, float(conf))
                    writer.writerow(result_row(task, report_id, result))
                handle.flush()
                finished += len(chunk)
                run.count("ok", len(chunk))
                run.count("truncated", int(chunk["truncated"].sum()))
                if progress:
                    progress(finished, total)
        return BatchSummary(out, run.dir, dict(run.counts), len(reports), list(reports.warnings))
