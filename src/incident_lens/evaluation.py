"""Running labelling methods on a gold test set and scoring them side by side.

Usage:
    result = evaluate(task, Path("data/gold/harm.csv"), ["tfidf-lr", "knn"], settings)
    result.methods[0].scores["macro_f1"]; write_report(result, out_dir)   # see report.py
Methods: the baselines (`tfidf-lr`, `embed-lr`, `knn`), the LLM programs (`zero-shot`, `rag`) and
compiled program files (`optimized/harm.json`). Without a separate train file, the gold file's
recorded split is used: baselines train on `train`, everything is scored on `test`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from incident_lens.baselines import BASELINES, MemoEmbedder, make_baseline
from incident_lens.errors import UserError
from incident_lens.gold import GoldSet, Split, default_split_path, load_gold, load_or_create_split
from incident_lens.metrics import MIN_SUPPORT, score_predictions
from incident_lens.task_files import Task

LLM_METHODS = ("zero-shot", "rag")
PROGRAM_SUFFIX = ".json"


@dataclass
class MethodResult:
    name: str
    kind: str  # "baseline", "llm" or "program"
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


def check_methods(methods: list[str]) -> list[str]:
    """The methods as given, each checked: a known name or an existing compiled program file."""
    if not methods:
        raise UserError(f"give at least one --method: {', '.join(BASELINES + LLM_METHODS)} or a compiled program file")
    for method in methods:
        if method in BASELINES or method in LLM_METHODS:
            continue
        if method.endswith(PROGRAM_SUFFIX):
            if not Path(method).is_file():
                raise UserError(f"--method {method}: compiled program file not found")
            continue
        raise UserError(f"--method {method}: unknown; use {', '.join(BASELINES + LLM_METHODS)} or the path of a compiled program (.json)")
    duplicates = sorted({m for m in methods if methods.count(m) > 1})
    if duplicates:
        raise UserError(f"--method {duplicates[0]} is given more than once")
    return list(methods)


def load_sets(task: Task, gold_path: Path, settings, train_path: Path | None = None, split_path: Path | None = None,
              split_seed: int | None = None, text_cols: list[str] | None = None, id_col: str | None = None):
    """(train, dev, test, split): from a separate train file, or from the gold file's recorded split."""
    cache = settings.workspace.cache_dir
    gold = load_gold(gold_path, task, text_cols=text_cols, id_col=id_col, max_chars=settings.max_chars, cache_dir=cache)
    if train_path is not None:
        train = load_gold(train_path, task, text_cols=text_cols, id_col=id_col, max_chars=settings.max_chars, cache_dir=cache)
        return train, None, gold, None
    path = split_path or default_split_path(settings.workspace, task, gold_path)
    split = load_or_create_split(gold, path, seed=settings.seed if split_seed is None else split_seed)
    return gold.subset(split.ids("train")), gold.subset(split.ids("dev")), gold.subset(split.ids("test")), split


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
    model = make_baseline(name, task, embedder=embedder, k=settings.k, collection=f"gold-{train.sha256[:16]}")
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
        details["k"] = settings.k
    return MethodResult(name, "baseline", predictions, confidence, {}, time.perf_counter() - started, details)


def run_program(method: str, task: Task, train: GoldSet, test: GoldSet, embedder, settings, tracker: _Tracker, lm,
                warnings: list[str]) -> MethodResult:
    """An LLM program (`zero-shot`, `rag`, or a compiled file) on every test row, under `lm`."""
    import dspy

    from incident_lens.optimising import TrainRetriever, compiled_kind, label_rows, load_compiled, model_description
    from programs import build_program

    started = time.perf_counter()
    kind = method if method in LLM_METHODS else compiled_kind(Path(method))
    retriever = TrainRetriever(task, train, embedder) if kind == "rag" else None
    details: dict = {"program": kind}
    try:
        if method in LLM_METHODS:
            name = method
            program = build_program(task, method, retriever=retriever)
        else:
            name = f"program:{Path(method).stem}"
            model = model_description(settings)
            program, meta, found = load_compiled(Path(method), task, retriever=retriever, embedder=embedder,
                                                 model_sha256=model["sha256"] if model else None)
            warnings.extend(found)
            details.update(file=str(method), optimizer=(meta or {}).get("optimizer"),
                           dev_after=(meta or {}).get("dev_after"))
        if retriever is not None:
            details["retrieves_from"] = f"{len(train)} train reports"
        with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
            predictions = label_rows(program, task, test, tracker.progress, name)
    finally:
        if retriever is not None:
            retriever.close()
    return MethodResult(name, "llm" if method in LLM_METHODS else "program", predictions, [None] * len(predictions), {},
                        time.perf_counter() - started, details)


def _needs_embedder(methods: list[str]) -> bool:
    return any(m in ("embed-lr", "knn", "rag") for m in methods) or any(m.endswith(PROGRAM_SUFFIX) for m in methods)


def make_embedder(settings):
    from retrieval.embedder import Embedder

    return MemoEmbedder(Embedder(settings.embedding_model, backend=settings.embedding_backend, batch_size=settings.batch_size,
                                 threads=settings.threads or None, cache_dir=settings.workspace.cache_dir))


def evaluate(task: Task, gold_path: Path, methods: list[str], settings, train_path: Path | None = None,
             split_path: Path | None = None, split_seed: int | None = None, text_cols: list[str] | None = None,
             id_col: str | None = None, progress=None, min_support: int = MIN_SUPPORT, embedder=None, lm=None) -> Evaluation:
    """Train the baselines, run every method on the test rows, score each against the gold labels."""
    methods = check_methods(methods)
    train, _dev, test, split = load_sets(task, gold_path, settings, train_path, split_path, split_seed, text_cols, id_col)
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
    return _evaluate_sets(task, train, test, split, methods, settings, progress, embedder, lm, min_support, result)


def _evaluate_sets(task: Task, train: GoldSet, test: GoldSet, split: Split | None, methods: list[str], settings, progress,
                   embedder, lm, min_support: int = MIN_SUPPORT, result: Evaluation | None = None) -> Evaluation:
    result = result or Evaluation(task, test, train, split, min_support=min_support)
    if embedder is None and _needs_embedder(methods):
        embedder = make_embedder(settings)
    if lm is None and any(m not in BASELINES for m in methods):
        from incident_lens.llm import build_lm

        lm = build_lm(settings)  # a one-line error when no model is given
    tracker = _Tracker(progress)
    for method in methods:
        if method in BASELINES:
            outcome = run_baseline(method, task, train, test, embedder, settings, tracker)
        else:
            outcome = run_program(method, task, train, test, embedder, settings, tracker, lm, result.warnings)
        taken = {m.name for m in result.methods}
        if outcome.name in taken:  # two compiled files with the same name in different folders
            outcome.name = next(f"{outcome.name}#{n}" for n in range(2, len(taken) + 3) if f"{outcome.name}#{n}" not in taken)
        outcome.scores = score_predictions(task, test.labels, outcome.predictions, min_support=min_support, seed=settings.seed)
        result.methods.append(outcome)
    return result


DEMO_TASKS = ("incident-type", "harm", "cxr-findings")


def repo_optimized_dir() -> Path:
    """`optimized/` of the checkout this package runs from (where the compiled demo programs ship)."""
    return Path(__file__).resolve().parents[2] / "optimized"


def evaluate_demo(settings, progress=None, out_dir: Path | None = None, limit: int | None = None,
                  tasks: tuple[str, ...] = DEMO_TASKS) -> dict:
    """Evaluate on the demo gold sets and write one report per task; the summary is for the console.

    Baselines always; with a model configured, also the zero-shot program and the compiled program
    shipped in `optimized/<task>.json`. `limit` scores only the first N test rows of each task (all
    methods on the same rows), to keep an LLM demo on a CPU short. Reports go to `out_dir`
    (default `<workspace>/reports/demo-evaluation/<task>/`).
    """
    from incident_lens.demo import demo_data_dir
    from incident_lens.report import write_report
    from incident_lens.task_files import find_task

    workspace = settings.workspace.ensure()
    gold_dir = demo_data_dir() / "gold"
    out_dir = Path(out_dir or workspace.home / "reports" / "demo-evaluation")
    embedder = make_embedder(settings)
    lm = None
    summary: dict = {}
    for name in tasks:
        task = find_task(name, workspace)
        methods = list(BASELINES)
        if settings.model_path is not None:
            if lm is None:
                from incident_lens.llm import build_lm

                lm = build_lm(settings)
            methods.append("zero-shot")
            compiled = repo_optimized_dir() / f"{name}.json"
            if compiled.is_file():
                methods.append(str(compiled))
        gold_path = gold_dir / f"{name}.csv"
        split_path = default_split_path(workspace, task, gold_path)
        if limit:
            train, _dev, test, split = load_sets(task, gold_path, settings, split_path=split_path)
            test = test.subset(test.ids[:limit])
            evaluation = _evaluate_sets(task, train, test, split, methods, settings, progress, embedder, lm)
        else:
            evaluation = evaluate(task, gold_path, methods, settings, split_path=split_path, progress=progress,
                                  embedder=embedder, lm=lm)
        written = write_report(evaluation, out_dir / name)
        best = evaluation.best()
        summary[name] = {"report": str(written["report"]), "best": best.name if best else None,
                         "test_rows": len(evaluation.test), "methods": evaluation.summary(), "warnings": evaluation.warnings}
    return summary
