"""Batch labelling of a report file with a DSPy program on the local model: resumable, with provenance.

Usage:
    summary = label_file(settings, Path("incidents.csv"), "incident-type", Path("labels.csv"), program="zero-shot")
    result = predict_one(program, task, text)   # one report -> LabelResult (never raises for a bad answer)
Each report's row is appended and flushed as soon as it is done, so a killed run loses at most the
report in flight and `resume=True` carries on without duplicates. A report too long for the model's
context is cut to fit and flagged; an answer that stays invalid after a retry becomes an `error:` row.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from incident_lens.errors import UserError
from incident_lens.hashing import file_sha256
from incident_lens.task_files import Task, find_task

# A retry samples at this temperature (with a new rollout id, so DSPy's cache does not replay the failure).
RETRY_TEMPERATURE = 0.7
MAX_SHRINKS = 3
# Below this many characters a truncated report says too little to label.
MIN_TRUNCATED_CHARS = 200
META_COLUMNS = ["evidence", "evidence_verified", "unsupported_evidence", "rationale", "status", "truncated",
                "prompt_tokens", "completion_tokens", "latency_s"]


@dataclass
class LabelResult:
    labels: object  # str (single), sorted list (multi), {finding: status} (findings); None on error
    evidence: list[str]
    evidence_verified: bool
    rationale: str
    status: str  # "ok" or "error: reason"
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    truncated: bool = False
    unsupported_evidence: list[str] = field(default_factory=list)
    cached_prompt_tokens: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class Attempt:
    """The outcome of running a program on one report with truncation and retries."""

    prediction: object  # dspy.Prediction or None
    status: str
    truncated: bool
    prompt_tokens: int
    completion_tokens: int
    cached_prompt_tokens: int
    latency_s: float


def _usage(tracker) -> tuple[int, int, int]:
    prompt = completion = cached = 0
    for usage in tracker.get_total_tokens().values():
        prompt += int(usage.get("prompt_tokens") or 0)
        completion += int(usage.get("completion_tokens") or 0)
        cached += int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
    return prompt, completion, cached


def _first_line(exc: Exception, limit: int = 160) -> str:
    text = (getattr(exc, "message", None) or str(exc)).strip().splitlines()
    return text[0][:limit] if text else ""


def _chars_per_token(lm, text: str) -> float:
    from incident_lens.llm import engine_of

    engine = engine_of(lm)
    if engine is not None and hasattr(engine, "count_tokens") and text:
        return len(text) / max(engine.count_tokens(text), 1)
    return 4.0


def run_program(call: Callable[[str], object], text: str, retries: int = 1) -> Attempt:
    """`call(text)` under DSPy's configured LM, cutting the text to fit the context and retrying a bad answer.

    Never raises for what the model or the report did; the status says what went wrong (no report text in it).
    """
    import dspy
    from dspy.utils.exceptions import AdapterParseError, ContextWindowExceededError, LMError
    from dspy.utils.usage_tracker import track_usage

    from incident_lens.llm import overflow_tokens

    lm = dspy.settings.lm
    if lm is None:
        raise UserError("no language model configured: build one with incident_lens.llm.build_lm(settings) "
                        "and run inside dspy.context(lm=lm)")
    started = time.perf_counter()
    attempt, shrinks, truncated, status, prediction = 0, 0, False, "ok", None
    with track_usage() as tracker:
        while True:
            try:
                retry_lm = lm.copy(rollout_id=attempt, temperature=RETRY_TEMPERATURE) if attempt else lm
                with dspy.context(lm=retry_lm, track_usage=True):
                    prediction = call(text)
                status = "ok"
                break
            except ContextWindowExceededError as exc:
                excess = overflow_tokens(str(exc))
                if excess is None or shrinks >= MAX_SHRINKS:
                    status = "error: report too long for the model context"
                    break
                keep = len(text) - math.ceil(excess * _chars_per_token(lm, text) * 1.2) - 20
                if keep < MIN_TRUNCATED_CHARS:
                    status = "error: report too long for the model context (instructions leave no room; raise n_ctx)"
                    break
                text, truncated, shrinks = text[:keep], True, shrinks + 1
            except (AdapterParseError, LMError) as exc:
                attempt += 1
                if attempt > retries:
                    # Engine messages carry counts and settings, never report text.
                    reason = ("answer did not match the output schema" if isinstance(exc, AdapterParseError)
                              else f"model call failed ({type(exc).__name__}: {_first_line(exc)})")
                    status = f"error: {reason} after {attempt} attempt(s)"
                    prediction = None
                    break
    prompt, completion, cached = _usage(tracker)
    return Attempt(prediction if status == "ok" else None, status, truncated, prompt, completion, cached,
                   round(time.perf_counter() - started, 3))


def predict_one(program, task: Task, text: str, report_id: str | None = None, retries: int = 1) -> LabelResult:
    """Label one report with `program` under DSPy's configured LM; errors become the status, not exceptions."""
    from programs import RagLabeller, prediction_labels

    def call(body: str):
        return program(report=body, report_id=report_id) if isinstance(program, RagLabeller) else program(report=body)

    done = run_program(call, text, retries)
    if done.prediction is None:
        return LabelResult(None, [], False, "", done.status, done.prompt_tokens, done.completion_tokens, done.latency_s,
                           done.truncated, [], done.cached_prompt_tokens)
    p = done.prediction
    try:
        labels = prediction_labels(task, p)
    except ValueError:
        return LabelResult(None, [], False, "", "error: answer outside the task's labels", done.prompt_tokens,
                           done.completion_tokens, done.latency_s, done.truncated, [], done.cached_prompt_tokens)
    return LabelResult(labels, [str(q) for q in p.evidence], bool(p.evidence_verified), str(p.rationale), "ok",
                       done.prompt_tokens, done.completion_tokens, done.latency_s, done.truncated,
                       list(p.unsupported_evidence), done.cached_prompt_tokens)


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
    return [report_id, *answer, json.dumps(result.evidence, ensure_ascii=False), str(result.evidence_verified).lower(),
            json.dumps(result.unsupported_evidence, ensure_ascii=False), _one_line(result.rationale), result.status,
            str(result.truncated).lower(), result.prompt_tokens, result.completion_tokens, f"{result.latency_s:.3f}"]


def drop_partial_line(path: Path) -> None:
    """A run killed mid-write can leave half a line; cut it so the file ends on a complete record."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)


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


def check_output(path: Path, resume: bool, suffix: str) -> None:
    if path.suffix.lower() != suffix:
        raise UserError(f"--out {path}: use a {suffix} file name")
    if path.exists() and path.stat().st_size > 0 and not resume:
        raise UserError(f"--out {path} already exists; add --resume to continue it, or choose another --out")


# --- programs and retrieval ------------------------------------------------------------------------

def labels_from_metadata(task: Task, metadata: dict):
    """A neighbour's labels from its index metadata, or None when it is not (validly) labelled."""
    from programs import normalise_labels

    if task.kind == "findings":
        if not all(name in metadata for name in task.label_names):
            return None
        raw = {name: metadata[name] for name in task.label_names}
    else:
        raw = str(metadata.get(task.label_column or "", "")).strip()
        if not raw:
            return None
    try:
        return normalise_labels(task, raw)
    except ValueError:
        return None


def index_retriever(index, task: Task, mode: str = "hybrid"):
    """`retrieve(text, k, exclude_id)` over an index: the k nearest *labelled* reports, never the report itself."""
    from programs import WorkedExample
    from programs.evidence import normalise

    def retrieve(text: str, k: int, exclude_id: str | None = None) -> list:
        own = normalise(text)
        hits = index.query(text, k=k * 3 + 2, mode=mode, exclude_ids={exclude_id} if exclude_id else set())
        examples = []
        for hit in hits:
            labels = labels_from_metadata(task, hit.metadata)
            # The same report can sit in the index under another id (or the caller gave no id).
            if labels is None or normalise(hit.text) == own:
                continue
            examples.append(WorkedExample(hit.text, labels))
            if len(examples) == k:
                break
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
    from incident_lens.indexing import open_index

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


def resolve_program(settings, task: Task, program: str, collection: str = "incidents", k: int = 4):
    """(DSPy module, provenance record, index to close or None) for `zero-shot`, `rag` or a saved JSON file."""
    import programs as progs

    if program in progs.PROGRAM_KINDS:
        index = open_rag_index(settings, task, collection) if program == "rag" else None
        retriever = index_retriever(index, task) if index is not None else None
        record = {"name": program, "builtin": True, **({"collection": collection, "k": k} if index else {})}
        return progs.build_program(task, program, retriever=retriever, k=k), record, index
    path = Path(program)
    if path.suffix.lower() != ".json" or not path.is_file():
        raise UserError(f"--program {program!r}: use zero-shot, rag, or the path of a compiled program (.json)")
    return _load_compiled_program(settings, task, path, collection, k)


def _load_compiled_program(settings, task: Task, path: Path, collection: str, k: int):
    """A compiled file through the optimiser's loader: task, label set and model are checked against its
    meta file, and a knn-compiled file keeps its pool of labelled demos."""
    import programs as progs
    from incident_lens.indexing import make_embedder
    from incident_lens.optimising import load_compiled

    try:
        kind = progs.saved_program_kind(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"{path}: not a saved labelling program ({str(exc).splitlines()[0]})") from None
    index = open_rag_index(settings, task, collection) if kind == "rag" else None
    retriever = index_retriever(index, task) if index is not None else None
    model_sha = None
    if settings.model_path is not None:
        from incident_lens.gguf_info import inspect_gguf

        model_sha = inspect_gguf(settings.model_path, settings.workspace.cache_dir).sha256
    module, _meta, warnings = load_compiled(path, task, retriever=retriever, model_sha256=model_sha,
                                            embedder=make_embedder(settings), k=k, workdir=settings.workspace.cache_dir)
    record = {"name": str(path), "kind": kind, "sha256": file_sha256(path), "warnings": warnings,
              **({"collection": collection, "k": k} if index else {})}
    return module, record, index


# --- the batch --------------------------------------------------------------------------------------

@dataclass
class BatchSummary:
    out: Path
    run_dir: Path
    counts: dict
    total: int
    warnings: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        lines = [f"warning: {w}" for w in self.warnings]
        return "\n".join([*lines, f"{self.total} report(s): {counts}; results in {self.out}; manifest in {self.run_dir / 'manifest.json'}"])


def record_inputs(run, lm, reports, path: Path, task: Task | None) -> None:
    """Input file, model and task (hashes and metadata) into the run's manifest."""
    from incident_lens.llm import model_record

    run.add_input("reports", path, reports.sha256)
    model = model_record(lm)
    if model.get("path") and model.get("sha256"):
        run.add_input("model", Path(model["path"]), model["sha256"])
    run.set("model", model)
    if task is not None:
        if task.source is not None:
            run.add_input("task", task.source, task.sha256)
        run.set("task", {"name": task.name, "kind": task.kind, "labels": task.label_names})


def label_file(settings, path: Path, task: Task | str, out: Path, program: str = "zero-shot", resume: bool = False,
               limit: int | None = None, text_cols: list[str] | None = None, id_col: str | None = None,
               collection: str = "incidents", k: int = 4, server_url: str | None = None, allow_remote: bool = False,
               progress: Callable[[int, int], None] | None = None, argv: list[str] | None = None) -> BatchSummary:
    """Label every report in `path` into the CSV `out` (see the module docstring)."""
    import dspy

    from incident_lens.llm import build_lm
    from incident_lens.provenance import RunRecord
    from incident_lens.reports import load_reports
    from programs.adapter import ADAPTER

    workspace = settings.workspace.ensure()
    task = find_task(task, workspace) if isinstance(task, str) else task
    path, out = Path(path), Path(out)
    check_output(out, resume, ".csv")
    header = output_header(task)
    done = done_ids_csv(out, header) if resume and out.exists() else set()
    reports = load_reports(path, text_cols or list(task.input_fields), id_col, max_chars=settings.max_chars,
                           cache_dir=workspace.cache_dir)
    frame = reports.frame.head(limit) if limit else reports.frame
    lm = build_lm(settings, server_url=server_url, allow_remote=allow_remote)
    module, program_record, index = resolve_program(settings, task, program, collection, k)
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
                    result = predict_one(module, task, row.text, report_id=row.id)
                    result.truncated = result.truncated or bool(row.truncated)
                    writer.writerow(result_row(task, row.id, result))
                    handle.flush()
                    run.count("ok" if result.ok else "error")
                    run.count("truncated", int(result.truncated))
                    run.count("prompt_tokens", result.prompt_tokens)
                    run.count("completion_tokens", result.completion_tokens)
                    if progress:
                        progress(n, len(todo))
            return BatchSummary(out, run.dir, dict(run.counts), len(frame), program_record.get("warnings", []))
    finally:
        if index is not None:
            index.close()

