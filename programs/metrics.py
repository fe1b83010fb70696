"""Gold examples, normalised predictions and the metric for each task kind.

Usage: `example_from_row(task, text, "Falls")`; `prediction_labels(task, prediction)`;
`metric = task_metric(task)`; `metric(example, prediction)` -> 0.0 .. 1.0.
single: exact match. multi: F1 between label sets. findings: share of findings with the right status.
During optimisation (`trace` given) only a perfect answer counts, so only perfect demos are kept.
"""

from __future__ import annotations

import dspy

from incident_lens.task_files import FINDING_STATUSES
from programs.signatures import ANSWER_FIELD

# Spellings of finding statuses in gold files (CheXpert-style 1 / 0 / -1 / blank included).
STATUS_SPELLINGS = {
    "positive": "positive", "pos": "positive", "1": "positive", "1.0": "positive", "yes": "positive", "true": "positive",
    "negative": "negative", "neg": "negative", "0": "negative", "0.0": "negative", "no": "negative", "false": "negative",
    "uncertain": "uncertain", "-1": "uncertain", "-1.0": "uncertain", "possible": "uncertain",
    "not_mentioned": "not_mentioned", "not mentioned": "not_mentioned", "": "not_mentioned", "nan": "not_mentioned",
}


def normalise_status(value) -> str:
    key = "" if value is None else str(value).strip().lower()
    if key not in STATUS_SPELLINGS:
        raise ValueError(f"'{value}' is not a finding status; use one of {', '.join(FINDING_STATUSES)} (or 1 / 0 / -1 / blank)")
    return STATUS_SPELLINGS[key]


def normalise_labels(task, labels):
    """Gold or predicted labels in one form per kind: str (single), sorted list (multi), dict (findings)."""
    names = task.label_names
    if task.kind == "single":
        label = str(labels).strip()
        if label not in names:
            raise ValueError(f"'{label}' is not a label of task '{task.name}' ({', '.join(names)})")
        return label
    if task.kind == "multi":
        items = labels.split(";") if isinstance(labels, str) else list(labels or [])
        items = {str(i).strip() for i in items if str(i).strip()}
        unknown = sorted(items - set(names))
        if unknown:
            raise ValueError(f"'{unknown[0]}' is not a label of task '{task.name}' ({', '.join(names)})")
        return sorted(items)
    if hasattr(labels, "model_dump"):
        labels = labels.model_dump(by_alias=True)
    labels = dict(labels or {})
    return {name: normalise_status(labels.get(name, "")) for name in names}


def example_from_row(task, text: str, labels) -> dspy.Example:
    """A gold example: input `report`, answer under the task kind's field (label / labels / findings)."""
    return dspy.Example(report=text, **{ANSWER_FIELD[task.kind]: normalise_labels(task, labels)}).with_inputs("report")


def prediction_labels(task, prediction):
    return normalise_labels(task, prediction[ANSWER_FIELD[task.kind]])


def score(task, gold, predicted) -> float:
    if task.kind == "single":
        return float(gold == predicted)
    if task.kind == "multi":
        gold, predicted = set(gold), set(predicted)
        if not gold and not predicted:
            return 1.0
        return 2 * len(gold & predicted) / (len(gold) + len(predicted))
    return sum(gold[name] == predicted[name] for name in task.label_names) / len(task.label_names)


def task_metric(task):
    field = ANSWER_FIELD[task.kind]

    def metric(example, prediction, trace=None) -> float:
        gold = normalise_labels(task, example[field])
        try:
            predicted = prediction_labels(task, prediction)
        except (ValueError, KeyError, AttributeError, TypeError):
            return 0.0
        value = score(task, gold, predicted)
        return float(value >= 1.0) if trace is not None else value

    metric.__name__ = f"{task.kind}_metric"
    return metric
