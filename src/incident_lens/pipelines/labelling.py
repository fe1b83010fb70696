"""Batch labelling of a report file with a DSPy program on the local model: resumable, with provenance.

Usage:
    summary = label_file(settings, Path("incidents.csv"), "incident-type", Path("labels.csv"), program="zero-shot")
    module, record, index = resolve_program(settings, task, "rag")   # zero-shot, rag or a compiled file
Each report's row is appended and flushed as soon as it is done, so a killed run loses at most the
report in flight and `resume=True` carries on without duplicates. One report's labelling (truncation,
retries, `error:` rows) is `predicting.predict_one`. A rag run counts the examples each report got and
the index's neighbours it could not use (unlabelled, or a label not in the task): the counts go in
the manifest (`rag_examples`) and, when anything fell short, one warning. `program` may also be a
student folder written by `distil`: then `student_labelling.label_file_with_student` labels the file,
streamed, at classifier speed, with the same columns (a confidence, no evidence).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

from incident_lens.errors import UserError
from incident_lens.hashing import file_sha256
from incident_lens.inputs.task_files import Task, find_task
from incident_lens.pipelines.output_files import BatchSummary, check_output, drop_partial_line, record_inputs
from incident_lens.pipelines.predicting import LabelResult, predict_one

META_COLUMNS = ["confidence", "evidence", "evidence_verified", "unsupported_evidence", "rationale", "status", "truncated",
                "prompt_tokens", "completion_tokens", "latency_s"]


# --- output file -----------------------------------------------------------------------------------

def label_columns(task: Task) -> list[str]:
    """The answer's columns: `label`, `labels` (';'-joined), or one column per finding."""
    if task.kind == "single":
        return ["label"]
    if task.kind == "multi":
        return ["labels"]
    clash = sorted(set(task.label_names) & {"id", *META_COLUMNS})
    if clash:
        raise UserError(f"{task.source}: finding name '{clash[0]}' clashes with an output column; rename it in the task file")
    return list(task.label_names)


def output_header(task: Task) -> list[str]:
    return ["id", *label_columns(task), *META_COLUMNS]


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def result_row(task: Task, report_id: str, result: LabelResult) -> list:
    if result.labels is None:
        answer = [""] * len(label_columns(task))
    elif task.kind == "single":
        answer = [result.labels]
    elif task.kind == "multi":
        answer = [";".join(result.labels)]
    else:
        answer = [result.labels[name] for name in task.label_names]
    confidence = "" if result.confidence is None else f"{result.confidence:.4f}"
    return [report_id, *answer, confidence, json.dumps(result.evidence, ensure_ascii=False), str(result.evidence_verified).lower(),
            json.dumps(result.unsupported_evidence, ensure_ascii=False), _one_line(result.rationale), result.status,
            str(result.truncated).lower(), result.prompt_tokens, result.completion_tokens, f"{result.latency_s:.3f}"]


def done_ids_csv(path: Path, header: list[str]) -> set[str]:
    """Ids already in an output file being resumed (after checking it was written for this task)."""
    drop_partial_line(path)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return set()
    if rows[0] != header:
        raise UserError(f"{path}: its columns ({', '.join(rows[0][:6])}...) are not this task's output; "
                        "resume only a file written for the same task, or choose another --out")
    return {row[0] for row in rows[1:] if row}


# --- programs and retrieval ------------------------------------------------------------------------

def labels_from_metadata(task: Task, metadata: dict):
    """A neighbour's labels from its index metadata; None when it is unlabelled, `LabelError` when its
    label is not one of the task's."""
    from programs import normalise_labels

    if task.kind == "findings":
        if not all(name in metadata for name in task.label_names):
            return None
        raw = {name: metadata[name] for name in task.label_names}
    else:
        raw = str(metadata.get(task.label_column or "", "")).strip()
        if not raw:
            return None
    return normalise_labels(task, raw)


def index_retriever(index, task: Task, mode: str = "hybrid", tally=None):
    """`retrieve(text, k, exclude_id)` over an index: the k nearest *labelled* reports, never the report itself.
    `tally` (an `ExampleTally`) counts what each call found and the neighbours it passed over."""
    from programs import LabelError, WorkedExample
    from programs.evidence import normalise

    def retrieve(text: str, k: int, exclude_id: str | None = None) -> list:
        own = normalise(text)
        hits = index.query(text, k=k * 3 + 2, mode=mode, exclude_ids={exclude_id} if exclude_id else set())
        examples = []
        for hit in hits:
            # The same report can sit in the index under another id (or the caller gave no id).
            if normalise(hit.text) == own:
                continue
            try:
                labels = labels_from_metadata(task, hit.metadata)
            except LabelError:
                if tally is not None:
                    tally.label_not_in_task.add(hit.id)
                continue
            if labels is None:
                if tally is not None:
                    tally.unlabelled.add(hit.id)
                continue
            examples.append(WorkedExample(hit.text, labels))
            if len(examples) == k:
                break
        if tally is not None:
            tally.found(k, len(examples), exclude_id)
        return examples

    return retrieve


def rag_label_fields(task: Task) -> list[str]:
    if task.kind == "findings":
        return list(task.label_names)
    if not task.label_column:
        raise UserError(f"{task.source}: task '{task.name}' has no label_column, so labelled neighbours cannot be found; "
                        "add label_column to the task file")
    return [task.label_column]


def open_rag_index(settings, task: Task, collection: str):
    from incident_lens.pipelines.indexing import open_index

    fields = rag_label_fields(task)
    meta = " ".join(f"--meta {f}" for f in fields[:3]) + (" ..." if len(fields) > 3 else "")
    advice = f"index labelled reports first: `incident-lens index FILE --collection {collection} {meta}`"
    try:
        index = open_index(settings, collection)
    except UserError as exc:
        raise UserError(f"--program rag needs an index of labelled reports ({str(exc).split(';')[0]}); {advice}") from None
    missing = [f for f in fields if f not in index.meta_fields]
    if missing:
        index.close()
        raise UserError(f"index '{collection}' does not store label column '{missing[0]}'; {advice}")
    return index


def resolve_program(settings, task: Task, program: str, collection: str = "incidents", k: int | None = None,
                    tally=None):
    """(DSPy module, provenance record, index to close or None) for `zero-shot`, `rag` or a saved JSON file.
    `k`: labelled examples per prompt of a rag program (default `settings.rag_k`); `tally`: see `index_retriever`."""
    import programs as progs

    k = k or settings.rag_k
    if program in progs.PROGRAM_KINDS:
        index = open_rag_index(settings, task, collection) if program == "rag" else None
        retriever = index_retriever(index, task, tally=tally) if index is not None else None
        record = {"name": program, "builtin": True, **({"collection": collection, "k": k} if index else {})}
        return progs.build_program(task, program, retriever=retriever, k=k), record, index
    path = Path(program)
    if path.suffix.lower() != ".json" or not path.is_file():
        raise UserError(f"--program {program!r}: use zero-shot, rag, or the path of a compiled program (.json)")
    return _load_compiled_program(settings, task, path, collection, k, tally)


def _load_compiled_program(settings, task: Task, path: Path, collection: str, k: int, tally=None):
    """A compiled file through the optimiser's loader: task, label set and model are checked against its
    meta file, and a knn-compiled file keeps its pool of labelled demos."""
    import programs as progs
    from incident_lens.pipelines.compiled import load_compiled
    from incident_lens.pipelines.indexing import make_embedder

    try:
        kind = progs.saved_program_kind(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"{path}: not a saved labelling program ({str(exc).splitlines()[0]})") from None
    index = open_rag_index(settings, task, collection) if kind == "rag" else None
    retriever = index_retriever(index, task, tally=tally) if index is not None else None
    from incident_lens.llm.default_model import available_model_path

    # With a server the local default model is not the one answering: no file hash to compare.
    model_sha, model_path = None, None if settings.server else available_model_path(settings)
    if model_path is not None:
        from incident_lens.llm.gguf_info import inspect_gguf

        model_sha = inspect_gguf(model_path, settings.workspace.cache_dir).sha256
    module, _meta, warnings = load_compiled(path, task, retriever=retriever, model_sha256=model_sha,
                                            embedder=make_embedder(settings), k=k)
    record = {"name": str(path), "kind": kind, "sha256": file_sha256(path), "warnings": warnings,
              **({"collection": collection, "k": k} if index else {})}
    return module, record, index


# --- the batch --------------------------------------------------------------------------------------

def prepare_output(settings, task: Task | str, out: Path, resume: bool):
    """(workspace, task, header, ids already done) for a labels CSV: the output checked, a resume read."""
    workspace = settings.workspace.ensure()
    task = find_task(task, workspace) if isinstance(task, str) else task
    check_output(Path(out), resume, ".csv")
    header = output_header(task)
    done = done_ids_csv(Path(out), header) if resume and Path(out).exists() else set()
    return workspace, task, header, done


def label_file(settings, path: Path, task: Task | str, out: Path, program: str = "zero-shot", resume: bool = False,
               limit: int | None = None, text_cols: list[str] | None = None, id_col: str | None = None,
               collection: str = "incidents", k: int | None = None, server_url: str | None = None, allow_remote: bool = False,
               progress: Callable[[int, int], None] | None = None, argv: list[str] | None = None,
               sheet: str | None = None) -> BatchSummary:
    """Label every report in `path` into the CSV `out` (see the module docstring).

    `k` defaults to `settings.rag_k`; the model is `settings.server` when set (or `server_url`), else the
    GGUF; the file is read with `settings.encoding` (`sheet`: the sheet of an .xlsx file)."""
    from incident_lens.students import is_student_dir

    if is_student_dir(program):
        from incident_lens.pipelines.student_labelling import label_file_with_student

        return label_file_with_student(settings, path, task, out, Path(program), resume=resume, limit=limit,
                                       text_cols=text_cols, id_col=id_col, progress=progress, argv=argv, sheet=sheet)
    import dspy

    from incident_lens.llm import build_lm
    from incident_lens.pipelines.labelled_pool import ExampleTally
    from incident_lens.provenance import RunRecord
    from incident_lens.inputs.report_files import load_reports
    from programs.adapter import ADAPTER

    workspace, task, header, done = prepare_output(settings, task, out, resume)
    path, out = Path(path), Path(out)
    reports = load_reports(path, text_cols or list(task.input_fields), id_col, max_chars=settings.max_chars,
                           cache_dir=workspace.cache_dir, encoding=settings.encoding, sheet=sheet)
    frame = reports.frame.head(limit) if limit else reports.frame
    from incident_lens.pipelines.compiled import settings_for_program

    settings, model_warnings = settings_for_program(settings, program)  # a fine-tuned program brings its GGUF
    lm = build_lm(settings, server_url=server_url, allow_remote=allow_remote)
    tally = ExampleTally()
    module, program_record, index = resolve_program(settings, task, program, collection, k, tally=tally)
    try:
        with RunRecord(workspace, "label", settings, argv) as run:
            record_inputs(run, lm, reports, path, task)
            run.set("program", program_record)
            run.set("output", str(out.absolute()))
            if program_record.get("sha256"):
                run.add_input("program", Path(program), program_record["sha256"])
            run.count("skipped", int(frame["id"].isin(done).sum()) + reports.skipped_empty)
            todo = frame[~frame["id"].isin(done)]
            new_file = not out.exists() or out.stat().st_size == 0
            with out.open("a", newline="", encoding="utf-8") as handle, dspy.context(lm=lm, adapter=ADAPTER):
                writer = csv.writer(handle)
                if new_file:
                    writer.writerow(header)
                    handle.flush()
                if progress:
                    progress(0, len(todo))
                for n, row in enumerate(todo.itertuples(index=False), start=1):
                    result = predict_one(module, task, row.text, report_id=row.id, samples=settings.confidence_samples)
                    result.truncated = result.truncated or bool(row.truncated)
                    writer.writerow(result_row(task, row.id, result))
                    handle.flush()
                    run.count("ok" if result.ok else "error")
                    run.count("truncated", int(result.truncated))
                    run.count("prompt_tokens", result.prompt_tokens)
                    run.count("completion_tokens", result.completion_tokens)
                    if progress:
                        progress(n, len(todo))
            warnings = model_warnings + list(program_record.get("warnings", []))
            if index is not None:
                run.set("rag_examples", tally.record())
                shortfall = tally.warning(f"index '{collection}'")
                warnings += [shortfall] if shortfall else []
            return BatchSummary(out, run.dir, dict(run.counts), len(frame), warnings)
    finally:
        if index is not None:
            index.close()

