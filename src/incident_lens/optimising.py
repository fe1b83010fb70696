"""Compiling a labelling program against a gold set, and loading compiled programs with their checks.

Usage:
    result = optimise(task, Path("data/gold/harm.csv"), settings, "bootstrap", "zero-shot", Path("optimized/harm.json"))
    program, meta, warnings = load_compiled(Path("optimized/harm.json"), task, retriever=..., model_sha256=...)
The program compiles on the gold file's recorded `train` split and is scored on `dev` before and after;
`test` is never seen. Written: the program JSON (DSPy state: instructions and demos) and, beside it,
`<name>.meta.json` saying what built it. Demos quote report text: `contains_source_text` says so, and a
program compiled on real data must not leave the TRE.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import dspy

from incident_lens.baselines import LabelledIndex
from incident_lens.errors import UserError
from incident_lens.gold import GoldSet
from incident_lens.metrics import score_predictions
from incident_lens.provenance import library_versions
from incident_lens.task_files import Task
from programs.nearest_demos import NearestDemos

OPTIMIZERS = ("labeled", "bootstrap", "random-search", "mipro-light", "knn")
PROGRAM_KINDS = ("zero-shot", "rag")
# Small on purpose: a CPU model answers a few reports a minute, and every demo lengthens every prompt.
DEFAULT_PARAMS = {
    "labeled": {"k": 4},
    "bootstrap": {"max_bootstrapped_demos": 2, "max_labeled_demos": 4, "max_rounds": 1},
    "random-search": {"max_bootstrapped_demos": 2, "max_labeled_demos": 4, "num_candidate_programs": 4},
    "mipro-light": {"auto": "light", "max_bootstrapped_demos": 2, "max_labeled_demos": 2},
    "knn": {"k": 4},
}
NEEDS_LM = {"bootstrap", "random-search", "mipro-light"}
META_FORMAT = 1
NEAREST_KEY = "nearest_demos"


def meta_path_for(program_path: Path) -> Path:
    """`optimized/harm.json` -> `optimized/harm.meta.json`."""
    program_path = Path(program_path)
    return program_path.with_name(program_path.stem + ".meta.json")


# ----------------------------------------------------------------------------------------------
# Gold rows as DSPy examples, and labels back
# ----------------------------------------------------------------------------------------------


def gold_form(task: Task, labels):
    """Labels as the programs give them (sorted list for multi) in the gold form (task-ordered tuple)."""
    if labels is None:
        return None
    if task.kind == "multi":
        chosen = set(labels)
        return tuple(name for name in task.label_names if name in chosen)
    if task.kind == "findings":
        return {name: dict(labels).get(name, "not_mentioned") for name in task.label_names}
    return str(labels)


def examples(task: Task, gold: GoldSet, with_ids: bool = False) -> list:
    """The gold rows as `dspy.Example`s; `with_ids` adds `report_id` so RAG can leave the row itself out."""
    from programs import example_from_row

    out = []
    for id_, text, labels in zip(gold.ids, gold.texts, gold.labels):
        example = example_from_row(task, text, list(labels) if task.kind == "multi" else labels)
        out.append(example.copy(report_id=id_).with_inputs("report", "report_id") if with_ids else example)
    return out


class TrainRetriever:
    """The RAG programs' retriever: nearest labelled train reports as worked examples, from an index."""

    def __init__(self, task: Task, gold: GoldSet, embedder, workdir: Path | None = None):
        self.task = task
        self.index = LabelledIndex(embedder, collection=f"gold-{gold.sha256[:16]}", workdir=workdir)
        self.index.add(gold.ids, gold.texts, gold.labels)

    def __call__(self, text: str, k: int, exclude_id: str | None = None):
        from programs import WorkedExample

        return [WorkedExample(hit.text, list(labels) if self.task.kind == "multi" else labels)
                for hit, labels in self.index.nearest(text, k, exclude_id)]

    def close(self) -> None:
        self.index.close()


# ----------------------------------------------------------------------------------------------
# The knn optimizer: demos chosen per report at inference
# ----------------------------------------------------------------------------------------------


class PoolIndex:
    """`NearestDemos`' `find`: positions of the labelled pool's reports nearest to a report, from an index."""

    def __init__(self, pool: list, embedder, workdir: Path | None = None):
        self._index = LabelledIndex(embedder, collection="demo-pool", workdir=workdir)
        self._index.add([str(i) for i in range(len(pool))], [e.report for e in pool], list(range(len(pool))))

    def __call__(self, report: str, k: int) -> list[int]:
        return [position for _, position in self._index.nearest(report, k)]

    def close(self) -> None:
        self._index.close()


def nearest_demos(program, pool: list, k: int, embedder, workdir: Path | None = None) -> NearestDemos:
    return NearestDemos(program, pool, k, PoolIndex(pool, embedder, workdir))


# ----------------------------------------------------------------------------------------------
# Progress while compiling
# ----------------------------------------------------------------------------------------------


class CompileWatch:
    """Counts LM calls and reads DSPy's own trial / best-score messages into one progress line."""

    _BEST = re.compile(r"Best (?:full )?score so far[:!]*\s*(?:Score:\s*)?([0-9.]+)")
    _TRIAL = re.compile(r"Trial (\d+) / (\d+)")

    def __init__(self, progress=None, description: str = "compiling"):
        self.progress = progress
        self.description = description
        self.bar = progress.add_task(description, total=None) if progress is not None else None
        self.calls = 0
        self.trial = None
        self.best = None

    def callback(self):
        from dspy.utils.callback import BaseCallback

        watch = self

        class _Calls(BaseCallback):
            def on_lm_end(self, call_id, outputs, exception):
                watch.calls += 1
                watch.refresh()

        return _Calls()

    def read(self, text: str) -> None:
        for match in self._BEST.finditer(text):
            value = float(match.group(1))
            self.best = value if self.best is None else max(self.best, value)
        for match in self._TRIAL.finditer(text):
            self.trial = (int(match.group(1)), int(match.group(2)))
        self.refresh()

    def line(self) -> str:
        parts = [self.description, f"{self.calls} LM calls (cached answers included)"]
        if self.trial:
            parts.append(f"trial {self.trial[0]}/{self.trial[1]}")
        if self.best is not None:
            parts.append(f"best so far {self.best:.3g}")
        return ", ".join(parts)

    def refresh(self) -> None:
        if self.progress is not None:
            self.progress.update(self.bar, description=self.line())

    @contextlib.contextmanager
    def capturing(self):
        """DSPy prints random-search scores and logs MIPRO trials: read both instead of letting them scroll."""
        watch = self

        class _Lines(io.TextIOBase):
            def write(self, text):
                watch.read(text)
                return len(text)

        class _Handler(logging.Handler):
            def emit(self, record):
                watch.read(record.getMessage())

        handler = _Handler(level=logging.INFO)
        loggers = [logging.getLogger(name) for name in ("dspy.teleprompt", "dspy.evaluate")]
        previous = [(lg, lg.level, lg.propagate) for lg in loggers]
        for lg in loggers:
            lg.addHandler(handler)
            lg.setLevel(logging.INFO)
            lg.propagate = False
        try:
            with contextlib.redirect_stdout(_Lines()):
                yield self
        finally:
            for lg, level, propagate in previous:
                lg.removeHandler(handler)
                lg.setLevel(level)
                lg.propagate = propagate


# ----------------------------------------------------------------------------------------------
# Compiling, scoring, saving, loading
# ----------------------------------------------------------------------------------------------


def compile_program(student, optimizer: str, params: dict, trainset: list, devset: list, metric, seed: int,
                    embedder=None, workdir: Path | None = None):
    """The student compiled by one optimizer (DSPy's, except knn: see `NearestDemos`)."""
    if optimizer == "labeled":
        return dspy.LabeledFewShot(k=params["k"]).compile(student, trainset=trainset)
    if optimizer == "bootstrap":
        return dspy.BootstrapFewShot(metric=metric, **params).compile(student, trainset=trainset)
    if optimizer == "random-search":
        return dspy.BootstrapFewShotWithRandomSearch(metric=metric, num_threads=1, **params).compile(
            student, trainset=trainset, valset=devset or None)
    if optimizer == "mipro-light":
        try:
            import optuna  # noqa: F401  (MIPROv2 needs it; say so before any LM call)
        except ImportError:
            raise UserError("--optimizer mipro-light needs the optuna package: pip install optuna") from None
        valset = devset or None
        size = len(valset) if valset else max(1, int(len(trainset) * 0.8))
        return dspy.MIPROv2(metric=metric, num_threads=1, seed=seed, **params).compile(
            student, trainset=trainset, valset=valset, minibatch_size=min(35, size))
    if optimizer == "knn":
        return nearest_demos(student, trainset, params["k"], embedder, workdir=workdir)
    raise UserError(f"--optimizer {optimizer}: unknown; use one of {', '.join(OPTIMIZERS)}")


def label_rows(program, task: Task, gold: GoldSet, progress=None, description: str = "labelling") -> list:
    """Each gold row labelled by the program under DSPy's configured LM (None where it failed)."""
    from incident_lens.labelling import predict_one

    bar = progress.add_task(description, total=len(gold)) if progress is not None else None
    predictions = []
    for id_, text in zip(gold.ids, gold.texts):
        result = predict_one(program, task, text, report_id=id_)
        predictions.append(gold_form(task, result.labels) if result.ok else None)
        if bar is not None:
            progress.advance(bar)
    return predictions


def dev_scores(program, task: Task, dev: GoldSet, progress=None, description: str = "dev") -> dict:
    """The optimisation metric (mean over dev rows) and the headline scores, on the dev split."""
    from programs import ANSWER_FIELD, task_metric

    predictions = label_rows(program, task, dev, progress, description)
    metric = task_metric(task)
    values = []
    for example, predicted in zip(examples(task, dev), predictions):
        if predicted is None:
            values.append(0.0)
            continue
        answer = list(predicted) if task.kind == "multi" else predicted
        values.append(metric(example, dspy.Prediction(**{ANSWER_FIELD[task.kind]: answer})))
    scores = score_predictions(task, dev.labels, predictions, n_boot=200)
    return {"metric": sum(values) / len(values) if values else None, "macro_f1": scores["macro_f1"],
            "accuracy": scores["accuracy"], "n": len(dev), "no_answer": scores["no_answer"]}


def has_demos(program) -> bool:
    if isinstance(program, NearestDemos):
        return bool(program.pool)
    return any(p.demos for p in program.predictors())


def save_compiled(program, path: Path) -> None:
    """DSPy's JSON state, written atomically; a knn program also carries its labelled pool."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.json")
    inner = program.program if isinstance(program, NearestDemos) else program
    inner.save(str(tmp))
    if isinstance(program, NearestDemos):
        state = json.loads(tmp.read_text(encoding="utf-8"))
        state[NEAREST_KEY] = program.pool_state()
        tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
    tmp.replace(path)


def write_meta(path: Path, meta: dict) -> Path:
    target = meta_path_for(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
    tmp.replace(target)
    return target


def read_meta(path: Path) -> dict | None:
    target = meta_path_for(path)
    if not target.is_file():
        return None
    try:
        return json.loads(target.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError(f"{target}: not valid JSON; rebuild it with `incident-lens optimise` or remove it") from None


def check_meta(meta: dict | None, path: Path, task: Task, model_sha256: str | None) -> list[str]:
    """A compiled file for another task or label set is refused; another model only warned about."""
    if meta is None:
        return [f"{path}: no {meta_path_for(path).name} beside it; task, label set and model cannot be checked"]
    if meta.get("task", {}).get("name") != task.name:
        raise UserError(f"{path}: compiled for task '{meta.get('task', {}).get('name')}', not '{task.name}'; "
                        f"compile one for this task with `incident-lens optimise --task {task.name}`")
    labels = meta.get("task", {}).get("labels")
    if labels != task.label_names:
        missing = sorted(set(task.label_names) - set(labels or []))
        extra = sorted(set(labels or []) - set(task.label_names))
        raise UserError(f"{path}: compiled for a different label set of task '{task.name}' "
                        f"(not in the file: {', '.join(missing) or 'none'}; no longer in the task: {', '.join(extra) or 'none'}); "
                        "re-run `incident-lens optimise`")
    warnings = []
    built_with = (meta.get("model") or {}).get("sha256")
    if model_sha256 and built_with != model_sha256:
        built = f"{(meta.get('model') or {}).get('file')} (sha256 {str(built_with)[:12]})" if built_with else "no model (demos only)"
        warnings.append(f"{path}: compiled with {built}, not the model in use; its dev scores do not carry over")
    if task.sha256 and meta.get("task", {}).get("sha256") not in (None, task.sha256):
        warnings.append(f"{path}: the task file changed since it was compiled (label definitions may differ)")
    return warnings


def compiled_kind(path: Path) -> str:
    """`zero-shot` or `rag`: which labeller a compiled file holds (read before building its retriever)."""
    from programs import saved_program_kind

    try:
        return saved_program_kind(json.loads(Path(path).read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise UserError(f"{path}: compiled program file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError, AttributeError) as exc:
        raise UserError(f"{path}: not a compiled labelling program ({str(exc).splitlines()[0]})") from None


def load_compiled(path: Path, task: Task, retriever=None, model_sha256: str | None = None, embedder=None,
                  k: int | None = None, workdir: Path | None = None):
    """(program, meta, warnings) for a compiled file, after checking it belongs to this task."""
    from programs import build_program, saved_program_kind

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: compiled program file not found")
    meta = read_meta(path)
    warnings = check_meta(meta, path, task, model_sha256)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        kind = saved_program_kind(state)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"{path}: not a compiled labelling program ({str(exc).splitlines()[0]})") from None
    if kind == "rag" and retriever is None:
        raise UserError(f"{path}: a RAG program needs labelled reports to retrieve from (a train split)")
    program = build_program(task, kind, retriever=retriever, **({"k": k} if k and kind == "rag" else {}))
    try:
        program.load(str(path))
    except (KeyError, ValueError, TypeError) as exc:
        raise UserError(f"{path}: does not fit task '{task.name}' ({type(exc).__name__}); re-run `incident-lens optimise`") from None
    if NEAREST_KEY in state:
        nearest = state[NEAREST_KEY]
        pool = [dspy.Example(**demo).with_inputs("report") for demo in nearest["pool"]]
        program = nearest_demos(program, pool, int(nearest["k"]), embedder, workdir=workdir)
    return program, meta, warnings


@dataclass
class OptimiseResult:
    program: object
    path: Path
    meta_path: Path
    meta: dict
    warnings: list[str] = field(default_factory=list)


def model_description(settings) -> dict | None:
    from incident_lens.gguf_info import inspect_gguf

    if settings.model_path is None:
        return None
    info = inspect_gguf(settings.model_path, settings.workspace.cache_dir)
    return {"file": info.path.name, "sha256": info.sha256, "size": info.size, "architecture": info.architecture}


def optimise(task: Task, gold_path: Path, settings, optimizer: str, program_kind: str = "zero-shot",
             out: Path | None = None, split_path: Path | None = None, split_seed: int | None = None,
             text_cols: list[str] | None = None, id_col: str | None = None, params: dict | None = None,
             progress=None, lm=None, embedder=None, score_dev: bool = True) -> OptimiseResult:
    """Compile on train, score on dev before and after, write the program and its meta file."""
    from incident_lens.evaluation import load_sets, make_embedder
    from programs import build_program, task_metric

    if optimizer not in OPTIMIZERS:
        raise UserError(f"--optimizer {optimizer}: unknown; use one of {', '.join(OPTIMIZERS)}")
    if program_kind not in PROGRAM_KINDS:
        raise UserError(f"--program {program_kind}: unknown; use one of {', '.join(PROGRAM_KINDS)}")
    out = Path(out or Path("optimized") / f"{task.name}.json")
    if out.suffix != ".json":
        raise UserError(f"--out {out}: a compiled program is a .json file")
    train, dev, _test, split = load_sets(task, gold_path, settings, None, split_path, split_seed, text_cols, id_col)
    if len(train) == 0:
        raise UserError(f"{gold_path}: the split has no train rows")
    if lm is None and settings.model_path is not None:
        from incident_lens.llm import build_lm

        lm = build_lm(settings)
    if lm is None and optimizer in NEEDS_LM:
        raise UserError(f"--optimizer {optimizer} calls the model: give --model PATH.gguf")
    if embedder is None and (program_kind == "rag" or optimizer == "knn"):
        embedder = make_embedder(settings)
    params = {**DEFAULT_PARAMS[optimizer], **(params or {})}
    retriever = TrainRetriever(task, train, embedder) if program_kind == "rag" else None
    started = time.perf_counter()
    metric = task_metric(task)
    student = build_program(task, program_kind, retriever=retriever)
    trainset, devset = examples(task, train, with_ids=program_kind == "rag"), examples(task, dev, with_ids=program_kind == "rag")
    watch = CompileWatch(progress, f"{optimizer} on {len(train)} train reports")
    before = after = None
    try:
        with dspy.context(lm=lm, adapter=dspy.JSONAdapter(), callbacks=[watch.callback()]):
            scoring = lm is not None and score_dev and len(dev) > 0
            if scoring:
                before = dev_scores(student, task, dev, progress, "dev before")
            with watch.capturing():
                compiled = compile_program(student, optimizer, params, trainset, devset, metric, settings.seed, embedder)
            if scoring:
                after = dev_scores(compiled, task, dev, progress, "dev after")
        save_compiled(compiled, out)
    finally:
        if retriever is not None:
            retriever.close()
    model = model_description(settings)
    meta = {
        "format": META_FORMAT,
        "task": {"name": task.name, "kind": task.kind, "file": task.source.name if task.source else None,
                 "sha256": task.sha256, "labels": task.label_names},
        "program": program_kind,
        "optimizer": optimizer,
        "parameters": params,
        "metric": f"{task.kind} task metric from programs.metrics "
                  + {"single": "(exact match)", "multi": "(F1 of label sets)", "findings": "(share of findings with the right status)"}[task.kind],
        "dev_before": before,
        "dev_after": after,
        "dev_note": None if after is not None else ("no model given: not scored" if lm is None else "no dev rows"),
        "gold": {"file": Path(gold_path).name, "sha256": train.sha256, "split_seed": split.seed if split else None,
                 "split_file": split.path.name if split else None, "split_counts": split.counts() if split else None},
        "model": model,
        "lm_calls": watch.calls,
        "seconds": round(time.perf_counter() - started, 1),
        "demos": len(compiled.pool) if isinstance(compiled, NearestDemos) else sum(len(p.demos) for p in compiled.predictors()),
        "contains_source_text": has_demos(compiled),
        "versions": library_versions(),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    meta_path = write_meta(out, meta)
    return OptimiseResult(compiled, out, meta_path, meta, list(split.notes) if split else [])
