"""Gold examples, normalised predictions and the metric for each task kind.

Usage: `example_from_row(task, text, "Falls")`; `prediction_labels(task, prediction)`;
`metric = task_metric(task)`; `metric(example, prediction)` -> 0.0 .. 1.0.
single: exact match. multi: F1 between label sets. findings: share of findings with the right status.
During optimisation (`trace` given) only a perfect answer counts, so only perfect demos are kept.
"""

from __future__ import annotations

import dspy

from programs.labels import LabelError, normalise_labels
from programs.signatures import ANSWER_FIELD


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
        except (LabelError, KeyError, AttributeError, TypeError):
            return 0.0
        value = score(task, gold, predicted)
        return float(value >= 1.0) if trace is not None else value

    metric.__name__ = f"{task.kind}_metric"
    return metric
