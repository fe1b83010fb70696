"""Agreement of predicted labels with gold labels: per-label and averaged scores with bootstrap intervals.

Usage: `scores = score_predictions(task, gold_labels, predicted)` -> dict ready for metrics.json.

What is scored, per task kind (also written into every result under "scoring"):
- single: per-label precision / recall / F1; macro- and micro-F1 over the labels that occur in the
  gold or the predictions (scikit-learn's default); accuracy; Cohen's kappa.
- multi: the same per label, one yes/no decision per label and report; accuracy is exact match of
  the whole label set; kappa is pooled over all (report, label) decisions.
- findings: per finding, "positive" against anything else (negative, uncertain and not mentioned
  count as not positive); macro- and micro-F1 over the findings with at least `min_support` gold
  positives among the scored reports; accuracy is exact match of all statuses of a report; kappa is
  pooled over all (report, finding) statuses. Status-level F1 (positive / negative / uncertain,
  pooled over findings) is reported too.
A missing prediction (a failed LLM call) is wrong: it predicts no label.
Kappa is undefined where gold and predictions hold one single class (chance agreement is 1): it is
None with `kappa_note` saying why, never 1.0, and stays out of any average.
Intervals are 95 % percentile bootstrap intervals over reports (1,000 resamples, seeded).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import cohen_kappa_score, precision_recall_fscore_support

from incident_lens.inputs.task_files import Task
from programs.labels import FINDING_STATUSES

MIN_SUPPORT = 5
N_BOOT = 1000
NO_ANSWER = "(no answer)"


def decisions(task: Task, values: list) -> np.ndarray:
    """Reports x labels matrix of yes/no decisions (for findings: is the finding positive)."""
    names = task.label_names
    matrix = np.zeros((len(values), len(names)), dtype=bool)
    index = {name: j for j, name in enumerate(names)}
    for i, value in enumerate(values):
        if value is None:
            continue
        if task.kind == "single":
            if value in index:
                matrix[i, index[value]] = True
        elif task.kind == "multi":
            for name in value:
                matrix[i, index[name]] = True
        else:
            for name, status in value.items():
                matrix[i, index[name]] = status == "positive"
    return matrix


def row_correct(task: Task, gold: list, predicted: list) -> np.ndarray:
    if task.kind == "single":
        return np.array([p is not None and g == p for g, p in zip(gold, predicted)], dtype=bool)
    if task.kind == "multi":
        return np.array([p is not None and set(g) == set(p) for g, p in zip(gold, predicted)], dtype=bool)
    return np.array([p is not None and all(p.get(k, "not_mentioned") == s for k, s in g.items())
                     for g, p in zip(gold, predicted)], dtype=bool)


def _pooled_kappa(task: Task, gold: list, predicted: list) -> tuple[float | None, str | None]:
    """(kappa, None), or (None, why) where kappa is undefined."""
    if task.kind == "single":
        a, b = list(gold), [NO_ANSWER if p is None else p for p in predicted]
    elif task.kind == "multi":
        a = decisions(task, gold).ravel().tolist()
        b = decisions(task, predicted).ravel().tolist()
    else:
        names = task.label_names
        a = [g[n] for g in gold for n in names]
        b = [(NO_ANSWER if p is None else p.get(n, "not_mentioned")) for p in predicted for n in names]
    if not a:
        return None, "undefined: nothing to compare"
    classes = set(a) | set(b)
    if len(classes) < 2:
        # Chance agreement is 1 when gold and predictions share one class: 0 / 0, not perfect agreement.
        only = next(iter(classes))
        return None, f"undefined: gold and predictions are all '{('yes' if only else 'no') if isinstance(only, bool) else only}'"
    return float(cohen_kappa_score(a, b)), None


def _f1_from_counts(tp, fp, fn):
    """F1 per column of count arrays, 0 where there is nothing to score (scikit-learn's zero_division=0)."""
    denominator = 2 * tp + fp + fn
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1e-12), 0.0)


def bootstrap_intervals(gold_matrix: np.ndarray, pred_matrix: np.ndarray, correct: np.ndarray, averaged: np.ndarray,
                        n_boot: int = N_BOOT, seed: int = 0) -> dict[str, list[float]]:
    """95 % intervals of macro-F1, micro-F1 and accuracy, resampling reports with replacement.

    Each resample is a vector of row counts, so all resamples are scored with matrix products over
    the per-row tp / fp / fn indicators (seconds for 10,000 reports, where scikit-learn calls per
    resample take minutes); with all counts equal to one it gives exactly scikit-learn's figures.
    """
    n = len(correct)
    if n == 0:
        return {}
    cols = np.flatnonzero(averaged)
    g = gold_matrix[:, cols].astype(np.float64)
    p = pred_matrix[:, cols].astype(np.float64)
    tp_rows, fp_rows, fn_rows = g * p, (1 - g) * p, g * (1 - p)
    rng = np.random.default_rng(seed)
    macro, micro, accuracy = [], [], []
    for start in range(0, n_boot, 100):
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=min(100, n_boot - start)).astype(np.float64)
        tp, fp, fn = weights @ tp_rows, weights @ fp_rows, weights @ fn_rows
        if len(cols):
            # A label absent from a resample (no gold, no prediction) is left out of that resample's
            # average, as scikit-learn would on the resample; counting it as 0 drags the interval down.
            present = (tp + fp + fn) > 0
            macro.append((_f1_from_counts(tp, fp, fn) * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1))
            micro.append(_f1_from_counts(tp.sum(axis=1), fp.sum(axis=1), fn.sum(axis=1)))
        accuracy.append(weights @ correct.astype(np.float64) / n)
    out = {"accuracy": np.percentile(np.concatenate(accuracy), [2.5, 97.5]).tolist()}
    if macro:
        out["macro_f1"] = np.percentile(np.concatenate(macro), [2.5, 97.5]).tolist()
        out["micro_f1"] = np.percentile(np.concatenate(micro), [2.5, 97.5]).tolist()
    return out


def _status_scores(task: Task, gold: list, predicted: list) -> dict:
    names = task.label_names
    pairs = [(g[n], NO_ANSWER if p is None else p.get(n, "not_mentioned")) for g, p in zip(gold, predicted) for n in names]
    a, b = [x for x, _ in pairs], [y for _, y in pairs]
    statuses = [s for s in FINDING_STATUSES if s != "not_mentioned"]
    precision, recall, f1, support = precision_recall_fscore_support(a, b, labels=statuses, zero_division=0)
    return {s: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]), "support": int(support[i])}
            for i, s in enumerate(statuses)}


def scoring_note(task: Task, min_support: int = MIN_SUPPORT) -> str:
    if task.kind == "single":
        return "macro/micro-F1 over labels present in gold or predictions; accuracy; Cohen's kappa"
    if task.kind == "multi":
        return "per-label yes/no; macro/micro-F1 over labels present in gold or predictions; accuracy = exact label-set match; kappa pooled over (report, label)"
    return (f"per finding: positive vs not (negative, uncertain, not mentioned); macro/micro-F1 over findings with >= {min_support} "
            "gold positives; accuracy = all statuses of a report right; kappa pooled over (report, finding) statuses")


def score_predictions(task: Task, gold: list, predicted: list, min_support: int = MIN_SUPPORT,
                      n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """All scores of one method against the gold labels (same order, same length)."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    names = task.label_names
    gold_matrix, pred_matrix = decisions(task, gold), decisions(task, predicted)
    correct = row_correct(task, gold, predicted)
    # Counted here rather than by scikit-learn: it reads a one-column indicator matrix as a binary
    # target and would average in the "no" class. The tests hold these to scikit-learn's figures.
    tp = (gold_matrix & pred_matrix).sum(axis=0)
    fp = (~gold_matrix & pred_matrix).sum(axis=0)
    fn = (gold_matrix & ~pred_matrix).sum(axis=0)
    support, predicted_counts = tp + fn, tp + fp
    precision = np.where(predicted_counts > 0, tp / np.maximum(predicted_counts, 1), 0.0)
    recall = np.where(support > 0, tp / np.maximum(support, 1), 0.0)
    f1 = _f1_from_counts(tp, fp, fn)
    if task.kind == "findings":
        averaged = support >= min_support
    else:
        averaged = (support > 0) | (predicted_counts > 0)
    per_label = {name: {"precision": float(precision[j]), "recall": float(recall[j]), "f1": float(f1[j]),
                        "support": int(support[j]), "predicted": int(predicted_counts[j]), "averaged": bool(averaged[j])}
                 for j, name in enumerate(names)}
    cols = np.flatnonzero(averaged)
    kappa, kappa_note = _pooled_kappa(task, gold, predicted)
    result = {
        "n": len(gold),
        "no_answer": sum(p is None for p in predicted),
        "scoring": scoring_note(task, min_support),
        "averaged_over": [names[j] for j in cols],
        "macro_f1": float(f1[cols].mean()) if len(cols) else None,
        "micro_f1": float(_f1_from_counts(tp[cols].sum(), fp[cols].sum(), fn[cols].sum())) if len(cols) else None,
        "accuracy": float(correct.mean()) if len(correct) else None,
        "kappa": kappa,
        "kappa_note": kappa_note,
        "per_label": per_label,
        "ci95": bootstrap_intervals(gold_matrix, pred_matrix, correct, averaged, n_boot=n_boot, seed=seed),
    }
    if task.kind == "findings":
        result["min_support"] = min_support
        result["status_f1"] = _status_scores(task, gold, predicted)
    return result
