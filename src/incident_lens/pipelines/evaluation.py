"""Running labelling methods on a gold test set and scoring them side by side.

Usage:
    result = evaluate(task, Path("data/gold/harm.csv"), ["tfidf-lr", "knn"], settings)
    result.methods[0].scores["macro_f1"]; write_report(result, out_dir)   # see scoring/evaluation_report.py
Methods: the baselines (`tfidf-lr`, `embed-lr`, `knn`), the LLM programs (`zero-shot`, `rag`),
compiled program files (`optimized/harm.json`) and student folders written by `distil`. Without a separate train file, the gold file's
recorded split is used: baselines train on `train`, everything is scored on `test`. A compiled program
that quotes test rows, or was compiled on this gold file split another way, or a student trained on test
rows, is refused before anything runs (`allow_overlap=True`: scored, with a warning). Every method's
scores include accuracy at 80 / 90 / 95 % coverage where it gives a confidence (scoring/coverage.py). Each method's details record what it chose (the
baselines' cross-validated C and class weights) and, for LLM methods, the LM tokens it used.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from incident_lens.pipelines.baselines import BASELINES, MemoEmbedder, make_baseline
from incident_lens.errors import UserError
from incident_lens.inputs.gold import GoldSet, load_sets
from incident_lens.inputs.splits import Split
from incident_lens.scoring.coverage import accuracy_at_coverage
from incident_lens.scoring.scores import MIN_SUPPORT, row_correct, score_predictions
from incident_lens.inputs.task_files import Task

LLM_METHODS = ("zero-shot", "rag")
PROGRAM_SUFFIX = ".json"


@dataclass
class MethodResult:
    name: str
    kind: str  # "baseline", "llm", "program" or "student"
    predictions: list
    confidence: list
    scores: dict
    seconds: float
    details: dict = field(default_factory=dict)


@dataclass
class Evaluation:
    task: Task
    test: GoldSet
    train: GoldSet
    split: Split | None
    methods: list[MethodResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    min_support: int = MIN_SUPPORT

    def best(self) -> MethodResult | None:
        scored = [m for m in self.methods if m.scores.get("macro_f1") is not None]
        return max(scored, key=lambda m: m.scores["macro_f1"], default=None)

    def summary(self) -> dict:
        """Headline numbers only (no report text): safe for manifests and the console."""
        return {m.name: {k: m.scores.get(k) for k in ("macro_f1", "micro_f1", "accuracy", "kappa", "n", "no_answer")}
                | {"ci95": m.scores.get("ci95"), "seconds": round(m.seconds, 2)} for m in self.methods}


def _is_student(method: str) -> bool:
    from incident_lens.students import is_student_dir

    return is_student_dir(method)


def check_methods(methods: list[str]) -> list[str]:
    """The methods as given, each checked: a known name, an existing compiled program file or a student folder."""
    if not methods:
        raise UserError(f"give at least one --method: {', '.join(BASELINES + LLM_METHODS)}, a compiled program file "
                        "or a student folder")
    for method in methods:
        if method in BASELINES or method in LLM_METHODS or _is_student(method):
            continue
        if Path(method).is_dir():
            raise UserError(f"--method {method}: a folder but not a student (no meta.json of one); train one with `incident-lens distil`")
        if method.endswith(PROGRAM_SUFFIX):
            if not Path(method).is_file():
                raise UserError(f"--method {method}: compiled program file not found")
            continue
        raise UserError(f"--method {method}: unknown; use {', '.join(BASELINES + LLM_METHODS)}, the path of a compiled "
                        "program (.json) or a student folder")
    duplicates = sorted({m for m in methods if methods.count(m) > 1})
    if duplicates:
        raise UserError(f"--method {duplicates[0]} is given more than once")
    return list(methods)


class _Tracker:
    """A rich progress bar per method, or nothing."""

    def __init__(self, progress):
        self.progress = progress

    def start(self, name: str, total: int):
        return self.progress.add_task(name, total=total) if self.progress is not None else None

    def advance(self, bar, n: int = 1) -> None:
        if bar is not None:
            self.progress.advance(bar, n)


def run_baseline(name: str, task: Task, train: GoldSet, test: GoldSet, embedder, settings, tracker: _Tracker) -> MethodResult:
    bar = tracker.start(name, total=len(test))
    started = time.perf_counter()
    model = make_baseline(name, task, embedder=embedder, k=settings.knn_k, seed=settings.seed)
    try:
        if name == "knn":
            model.fit(train.texts, train.labels, ids=train.ids)
        else:
            model.fit(train.texts, train.labels)
        predictions, confidence = model.predict(test.texts)
    finally:
        if hasattr(model, "close"):
            model.close()
    tracker.advance(bar, len(test))
    details = {"trained_on": len(train)}
    if name == "knn":
        details["k"] = settings.knn_k
    else:
        details["tuning"] = model.tuning()
    return MethodResult(name, "baseline", predictions, confidence, {}, time.perf_counter() - started, details)


def run_student(method: str, task: Task, test: GoldSet, settings, tracker: _Tracker) -> MethodResult:
    """A student folder on every test row (no training: it learnt in `distil`)."""
    from incident_lens.students import load_student
    from incident_lens.students.store import student_predict

    bar = tracker.start(method, total=len(test))
    started = time.perf_counter()
    student, meta = load_student(Path(method), task, settings)
    predictions, confidence = student_predict(student, test.texts)
    tracker.advance(bar, len(test))
    details = {"student": meta["student"], "folder": str(method), "trained_on": meta.get("counts", {}),
               "held_out": (meta.get("held_out") or {}).get("scores")}
    return MethodResult(f"student:{Path(method).name}", "student", predictions, confidence, {},
                        time.perf_counter() - started, details)


def run_llm_method(method: str, task: Task, train: GoldSet, test: GoldSet, embedder, settings, tracker: _Tracker, lm,
                warnings: list[str]) -> MethodResult:
    """An LLM program (`zero-shot`, `rag`, or a compiled file) on every test row, under `lm`."""
    import dspy

    from incident_lens.llm import build_lm
    from incident_lens.pipelines.compiled import compiled_kind, load_compiled, model_description, settings_for_program
    from incident_lens.pipelines.labelled_pool import TrainRetriever
    from incident_lens.pipelines.predicting import label_rows
    from programs import build_program

    started = time.perf_counter()
    kind = method if method in LLM_METHODS else compiled_kind(Path(method))
    retriever = TrainRetriever(task, train, embedder) if kind == "rag" else None
    details: dict = {"program": kind}
    try:
        if method in LLM_METHODS:
            name = method
            program = build_program(task, method, retriever=retriever, **({"k": settings.rag_k} if kind == "rag" else {}))
        else:
            name = f"program:{Path(method).stem}"
            own_settings, found = settings_for_program(settings, method)
            if own_settings is not settings:  # a fine-tuned program runs on its own GGUF
                settings, lm = own_settings, build_lm(own_settings)
                warnings.extend(found)
                details["model"] = str(settings.model_path.name)
            model = None if settings.server else model_description(settings)  # a server gives no file hash to check
            program, meta, found = load_compiled(Path(method), task, retriever=retriever, embedder=embedder, k=settings.rag_k,
                                                 model_sha256=model["sha256"] if model else None)
            warnings.extend(found)
            details.update(file=str(method), optimizer=(meta or {}).get("optimizer"),
                           dev_after=(meta or {}).get("dev_after"))
        if retriever is not None:
            details["retrieves_from"] = f"{len(train)} train reports"
            details["k"] = settings.rag_k
        usage: dict = {}
        confidence: list = []
        with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
            predictions = label_rows(program, task, test, tracker.progress, name, usage=usage,
                                     samples=settings.confidence_samples, confidence=confidence)
        details["lm_tokens"] = usage
        if settings.confidence_samples:
            details["confidence"] = f"agreement of {settings.confidence_samples} sampled answers"
        if retriever is not None:
            details["rag_examples"] = retriever.tally.record()
            shortfall = retriever.tally.warning("the train split")
            warnings.extend([f"{name}: {shortfall}"] if shortfall else [])
    finally:
        if retriever is not None:
            retriever.close()
    return MethodResult(name, "llm" if method in LLM_METHODS else "program", predictions, confidence, {},
                        time.perf_counter() - started, details)


def check_overlap(methods: list[str], test: GoldSet, split: Split | None, allow_overlap: bool) -> dict[str, list[str]]:
    """Compiled programs whose demos or train rows overlap the test rows: refused, or with `allow_overlap` returned."""
    from incident_lens.pipelines.compiled import compile_test_overlap

    found = {}
    for method in methods:
        if _is_student(method):
            from incident_lens.students import read_meta

            shared = set(read_meta(Path(method)).get("train_ids", [])) & set(test.ids)
            problems = [f"trained on {len(shared)} of the {len(test)} test rows"] if shared else []
            if problems and not allow_overlap:
                raise UserError(f"{method}: student {problems[0]}; its scores would be optimistic: score it on other rows, "
                                "train it with this gold file (distil --gold keeps its test split out) or pass --allow-overlap")
            if problems:
                found[method] = problems
        elif method.endswith(PROGRAM_SUFFIX):
            problems = compile_test_overlap(Path(method), test, split)
            if problems and not allow_overlap:
                raise UserError(f"{method}: {'; '.join(problems)}; its scores would be optimistic: score it on rows it was "
                                "not compiled from (on this gold file, the split it was compiled with) or pass --allow-overlap")
            if problems:
                found[method] = problems
    return found


def _has_own_model(method: str, settings) -> bool:
    """A fine-tuned program file: it runs on its own GGUF, not the run's model."""
    from incident_lens.pipelines.compiled import finetuned_model_path

    return not settings.server and finetuned_model_path(Path(method), settings.workspace.cache_dir) is not None


def _needs_embedder(methods: list[str]) -> bool:
    return any(m in ("embed-lr", "knn", "rag") for m in methods) or any(m.endswith(PROGRAM_SUFFIX) for m in methods)


def _needs_lm(methods: list[str], settings) -> bool:
    """Whether a method runs on the run's model (baselines, students and fine-tuned programs do not)."""
    return any(m not in BASELINES and not _is_student(m) and not _has_own_model(m, settings) for m in methods)


def make_embedder(settings):
    """The index's embedder, remembering each text's vector for the run (embed-lr, knn and rag share it)."""
    from incident_lens.pipelines.indexing import make_embedder as index_embedder

    return MemoEmbedder(index_embedder(settings))


def evaluate(task: Task, gold_path: Path, methods: list[str], settings, train_path: Path | None = None,
             split_path: Path | None = None, split_seed: int | None = None, text_cols: list[str] | None = None,
             id_col: str | None = None, progress=None, min_support: int = MIN_SUPPORT, embedder=None, lm=None,
             sheet: str | None = None, allow_overlap: bool = False) -> Evaluation:
    """Train the baselines, run every method on the test rows, score each against the gold labels.
    knn votes with `settings.knn_k` neighbours, rag shows `settings.rag_k` examples; LLM methods use
    `settings.server` when set, else the GGUF; files are read with `settings.encoding` (`sheet` for .xlsx)."""
    methods = check_methods(methods)
    train, _dev, test, split = load_sets(task, gold_path, settings, train_path, split_path, split_seed, text_cols, id_col,
                                         sheet=sheet)
    if len(test) == 0:
        raise UserError(f"{gold_path}: no test rows to score (check the split file or give --train)")
    if len(train) == 0 and any(m in BASELINES for m in methods):
        raise UserError(f"{train_path or gold_path}: no train rows for the baselines")
    result = Evaluation(task, test, train, split, min_support=min_support)
    result.warnings += test.warnings + ([] if train is test else train.warnings)
    if split is not None:
        result.warnings += split.notes
    overlap = set(train.ids) & set(test.ids) if train_path is not None else set()
    if overlap:
        result.warnings.append(f"{len(overlap)} id(s) are in both the train and the test file; their scores are optimistic")
    return evaluate_sets(task, train, test, split, methods, settings, progress, embedder, lm, min_support, result,
                         allow_overlap=allow_overlap)


def evaluate_sets(task: Task, train: GoldSet, test: GoldSet, split: Split | None, methods: list[str], settings, progress,
                   embedder, lm, min_support: int = MIN_SUPPORT, result: Evaluation | None = None,
                   allow_overlap: bool = False) -> Evaluation:
    """Every method on `test`; a compiled program that quotes test rows or was trained on them is refused
    before anything runs, or with `allow_overlap` scored under a warning (in `warnings` and its details)."""
    result = result or Evaluation(task, test, train, split, min_support=min_support)
    overlaps = check_overlap(methods, test, split, allow_overlap)
    for method, problems in overlaps.items():
        result.warnings += [f"{method}: scores optimistic, compile and test overlap (--allow-overlap): {p}" for p in problems]
    if embedder is None and _needs_embedder(methods):
        embedder = make_embedder(settings)
    if lm is None and _needs_lm(methods, settings):
        from incident_lens.llm import build_lm

        lm = build_lm(settings)  # a one-line error when no model is given
    tracker = _Tracker(progress)
    for method in methods:
        if method in BASELINES:
            outcome = run_baseline(method, task, train, test, embedder, settings, tracker)
        elif _is_student(method):
            outcome = run_student(method, task, test, settings, tracker)
        else:
            outcome = run_llm_method(method, task, train, test, embedder, settings, tracker, lm, result.warnings)
        if method in overlaps:
            outcome.details["overlap"] = overlaps[method]
        taken = {m.name for m in result.methods}
        if outcome.name in taken:  # two compiled files with the same name in different folders
            outcome.name = next(f"{outcome.name}#{n}" for n in range(2, len(taken) + 3) if f"{outcome.name}#{n}" not in taken)
        outcome.scores = score_predictions(task, test.labels, outcome.predictions, min_support=min_support, seed=settings.seed)
        outcome.scores["coverage"] = accuracy_at_coverage(row_correct(task, test.labels, outcome.predictions), outcome.confidence)
        result.methods.append(outcome)
    return result
