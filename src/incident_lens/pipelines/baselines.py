"""Simple models a labelling program must beat, trained on the gold train split with scikit-learn.

Usage:
    model = make_baseline("tfidf-lr", task).fit(train.texts, train.labels)
    labels, confidence = model.predict(test.texts)
Methods: `tfidf-lr` (TF-IDF word and bigram features + logistic regression), `embed-lr` (sentence
embeddings + logistic regression) and `knn` (similarity-weighted label vote of the k nearest train
reports, held in memory). Multi-label and findings tasks get one model (or vote) per label.
The logistic regressions choose C and class weights per label by stratified cross-validation on the
train rows they are given (`tuning()` says what was chosen, with the cross-validated scores).
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from incident_lens.inputs.task_files import Task
from programs.labels import FINDING_STATUSES
from incident_lens.pipelines.labelled_pool import LabelledPool

BASELINES = ("tfidf-lr", "embed-lr", "knn")
YES, NO = "yes", "no"
# One fixed C under-fits some targets and over-fits others (on OpenI's train split the best C ran from
# 0.1 to 100 across findings), so every logistic regression picks its own from this grid.
C_GRID = (0.1, 1.0, 10.0, 100.0)
CLASS_WEIGHTS = (None, "balanced")
# Used where a target cannot be cross-validated, and tried first so that a tie keeps them: gold sets are
# skewed (most incidents are "No harm"), and inverse-frequency weights keep the rare classes predicted.
DEFAULT_C, DEFAULT_CLASS_WEIGHT = 1.0, "balanced"
CV_FOLDS = 3


def targets(task: Task, labels: list) -> dict[str, list[str]]:
    """The per-target class columns a task's labels are learnt as: one for single, one per label otherwise."""
    if task.kind == "single":
        return {"label": list(labels)}
    if task.kind == "multi":
        return {name: [YES if name in value else NO for value in labels] for name in task.label_names}
    return {name: [value[name] for value in labels] for name in task.label_names}


def assemble(task: Task, columns: dict[str, list[str]], n: int) -> list:
    """Inverse of `targets`: per-target predictions back to one label value per report."""
    if task.kind == "single":
        return list(columns["label"])
    if task.kind == "multi":
        return [tuple(name for name in task.label_names if columns[name][i] == YES) for i in range(n)]
    return [{name: columns[name][i] for name in task.label_names} for i in range(n)]


class _Constant:
    """Stands in for a classifier when the train split has only one class for a target."""

    def __init__(self, value: str):
        self.value = value

    def predict_proba_label(self, n: int):
        return [self.value] * n, np.ones(n)


def _logistic_regression(C: float = DEFAULT_C, class_weight: str | None = DEFAULT_CLASS_WEIGHT):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, class_weight=class_weight, max_iter=3000)


def _one_blas_thread():
    """lbfgs's vector steps are too small to share out: with OpenBLAS's default threads on two busy cores
    one OpenI fit took 3-4 s, with one thread under 0.1 s (what makes a grid search per target affordable)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _weight_name(class_weight: str | None) -> str:
    return class_weight or "none"


def fit_tuned(features, column: list[str], seed: int = 0, sample_weight=None):
    """(fitted logistic regression, what was chosen): C and class weights by stratified k-fold CV on these rows.

    k = min(3, rows of the rarest class), scored by macro-F1. A class with a single row cannot be in a
    training and a held-out fold at once: the defaults are fitted instead, and the note says so.
    `sample_weight` (one per row, e.g. gold above pseudo-labels) weights the fits; the CV scores are unweighted.
    """
    fit_args = {} if sample_weight is None else {"sample_weight": np.asarray(sample_weight, dtype=float)}
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    counts = Counter(column)
    rarest, smallest = min(counts.items(), key=lambda item: (item[1], item[0]))
    if smallest < 2:
        model = _logistic_regression().fit(features, column, **fit_args)
        return model, {"C": DEFAULT_C, "class_weight": _weight_name(DEFAULT_CLASS_WEIGHT),
                       "note": f"class '{rarest}' has {smallest} train row: not cross-validated, defaults used"}
    grid = [(DEFAULT_C, DEFAULT_CLASS_WEIGHT)] + [(c, w) for c in C_GRID for w in CLASS_WEIGHTS
                                                  if (c, w) != (DEFAULT_C, DEFAULT_CLASS_WEIGHT)]
    folds = min(CV_FOLDS, smallest)
    # GridSearchCV keeps the first of tied settings: the defaults come first in `grid`.
    search = GridSearchCV(_logistic_regression(), [{"C": [c], "class_weight": [w]} for c, w in grid],
                          scoring="f1_macro", cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
                          error_score="raise").fit(features, column, **fit_args)
    chosen = search.best_params_
    scores = {f"C={c:g}, class_weight={_weight_name(w)}": round(float(s), 4)
              for (c, w), s in zip(grid, search.cv_results_["mean_test_score"])}
    return search.best_estimator_, {"C": chosen["C"], "class_weight": _weight_name(chosen["class_weight"]),
                                    "cv_macro_f1": round(float(search.best_score_), 4), "folds": folds, "cv_scores": scores}


class _PerTargetLR:
    """One logistic regression per target on a shared feature matrix, each with its own C and class weights.

    Chosen per target rather than once per method: the targets of a findings task range from a few to
    hundreds of positives and want different regularisation. On OpenI one shared choice (best mean CV
    macro-F1 over findings) stays at C = 1, balanced, while per-target choices raised test macro-F1 of
    tfidf-lr from 0.539 to 0.562; the search costs seconds (8 settings x 3 folds x 13 findings).
    """

    def __init__(self, task: Task, seed: int = 0):
        self.task = task
        self.seed = seed
        self.models: dict = {}
        self.tuning: dict[str, dict] = {}

    def fit(self, features, labels: list, sample_weight=None) -> "_PerTargetLR":
        with _one_blas_thread():
            return self._fit(features, labels, sample_weight)

    def _fit(self, features, labels: list, sample_weight=None) -> "_PerTargetLR":
        for name, column in targets(self.task, labels).items():
            classes = sorted(set(column))
            if len(classes) == 1:
                self.models[name] = _Constant(classes[0])
                self.tuning[name] = {"note": f"one class in train ('{classes[0]}'): predicted as a constant"}
            else:
                self.models[name], self.tuning[name] = fit_tuned(features, column, self.seed, sample_weight)
        return self

    def probabilities(self, features) -> dict[str, tuple[list[str], np.ndarray]]:
        """Per target: (its classes, reports x classes probabilities)."""
        n = features.shape[0]
        out = {}
        for name, model in self.models.items():
            if isinstance(model, _Constant):
                out[name] = ([model.value], np.ones((n, 1)))
            else:
                out[name] = (model.classes_.tolist(), model.predict_proba(features))
        return out

    def predict(self, features) -> tuple[list, list[float]]:
        return predict_from_probabilities(self.task, self.probabilities(features), features.shape[0])


def predict_from_probabilities(task: Task, probabilities: dict[str, tuple[list[str], np.ndarray]], n: int) -> tuple[list, list[float]]:
    """(labels, confidence) from per-target probabilities: the likeliest class of each target; the
    confidence of a report is that of its least certain target."""
    columns, confidence = {}, np.ones(n)
    for name, (classes, proba) in probabilities.items():
        columns[name] = [classes[j] for j in proba.argmax(axis=1)]
        # A report is only as certain as its least certain label.
        confidence = np.minimum(confidence, proba.max(axis=1))
    return assemble(task, columns, n), confidence.tolist()


def tuning_details(model: _PerTargetLR) -> dict:
    """What a logistic-regression baseline chose, per target, for metrics.json."""
    return {"search": f"C in {list(C_GRID)} x class_weight in {[_weight_name(w) for w in CLASS_WEIGHTS]}; "
                      f"stratified {CV_FOLDS}-fold CV (fewer folds where a class has fewer train rows) "
                      "on the train rows only, by macro-F1",
            "targets": model.tuning}


class TfidfLR:
    name = "tfidf-lr"

    def __init__(self, task: Task, seed: int = 0):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.task = task
        self.vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, max_features=200_000, strip_accents="unicode")
        self.model = _PerTargetLR(task, seed)

    def fit(self, texts: list[str], labels: list, sample_weight=None) -> "TfidfLR":
        # The vectoriser is fitted once on all train rows, not per CV fold: a term seen only in a held-out
        # fold is zero in every row the regression trains on, so its weight stays 0; only the idf scaling
        # sees the held-out fold, and the test rows are never seen.
        self.model.fit(self.vectorizer.fit_transform(texts), labels, sample_weight)
        return self

    def probabilities(self, texts: list[str]) -> dict:
        return self.model.probabilities(self.vectorizer.transform(texts))

    def predict(self, texts: list[str]) -> tuple[list, list[float]]:
        return self.model.predict(self.vectorizer.transform(texts))

    def tuning(self) -> dict:
        return tuning_details(self.model)


class MemoEmbedder:
    """An embedder that encodes each distinct text once per run (embed-lr and knn share it)."""

    def __init__(self, embedder):
        self.inner = embedder
        self.memo: dict[str, np.ndarray] = {}

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def encode(self, texts: list[str]) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if t not in self.memo))
        if todo:
            for text, vector in zip(todo, self.inner.encode(todo)):
                self.memo[text] = vector
        if not texts:
            return self.inner.encode([])
        return np.stack([self.memo[t] for t in texts]).astype(np.float32)


class EmbedLR:
    name = "embed-lr"

    def __init__(self, task: Task, embedder, seed: int = 0):
        self.task = task
        self.embedder = embedder
        self.model = _PerTargetLR(task, seed)

    def fit(self, texts: list[str], labels: list, sample_weight=None) -> "EmbedLR":
        self.model.fit(self.embedder.encode(texts), labels, sample_weight)
        return self

    def probabilities(self, texts: list[str]) -> dict:
        return self.model.probabilities(self.embedder.encode(texts))

    def predict(self, texts: list[str]) -> tuple[list, list[float]]:
        return self.model.predict(self.embedder.encode(texts))

    def tuning(self) -> dict:
        return tuning_details(self.model)


class KNNVote:
    """Label vote of the k most similar train reports, each weighted by its cosine similarity."""

    name = "knn"

    def __init__(self, task: Task, embedder, k: int = 10):
        self.task = task
        self.k = k
        self.index = LabelledPool(embedder)

    def fit(self, texts: list[str], labels: list, ids: list[str] | None = None) -> "KNNVote":
        ids = list(ids) if ids is not None else [f"train-{i}" for i in range(len(texts))]
        self.index.add(ids, texts, labels)
        return self

    def _vote(self, neighbours) -> tuple[object, float]:
        columns: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        total = 0.0
        for hit, labels in neighbours:
            # Cosine similarity can be slightly negative; a neighbour never votes against its label.
            weight = max(hit.similarity, 1e-6)
            total += weight
            for name, value in targets(self.task, [labels]).items():
                columns[name][value[0]] += weight
        chosen, confidence = {}, 1.0
        for name in targets(self.task, []):
            votes = columns.get(name, {})
            if not votes:
                chosen[name] = {"single": None, "multi": NO, "findings": "not_mentioned"}[self.task.kind]
                confidence = 0.0
                continue
            if self.task.kind == "multi":
                share = votes.get(YES, 0.0) / total
                chosen[name] = YES if share > 0.5 else NO
                confidence = min(confidence, max(share, 1 - share))
            else:
                # Ties go to the earlier label in the task (or status order), not to dict order.
                order = self.task.label_names if self.task.kind == "single" else list(FINDING_STATUSES)
                best = max(votes, key=lambda v: (votes[v], -order.index(v) if v in order else 0))
                chosen[name] = best
                confidence = min(confidence, votes[best] / total)
        return assemble(self.task, {k: [v] for k, v in chosen.items()}, 1)[0], confidence

    def predict(self, texts: list[str]) -> tuple[list, list[float]]:
        labels, confidence = [], []
        for text in texts:
            label, conf = self._vote(self.index.nearest(text, self.k))
            labels.append(label)
            confidence.append(conf)
        return labels, confidence

    def close(self) -> None:
        self.index.close()


def make_baseline(name: str, task: Task, embedder=None, k: int = 10, seed: int = 0):
    """A baseline by name; `seed` fixes the cross-validation folds of the logistic regressions."""
    if name == "tfidf-lr":
        return TfidfLR(task, seed)
    if name == "embed-lr":
        return EmbedLR(task, embedder, seed)
    if name == "knn":
        return KNNVote(task, embedder, k=k)
    raise ValueError(f"unknown baseline {name!r}")
