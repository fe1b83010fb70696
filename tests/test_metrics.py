"""Scores against scikit-learn, failed predictions, findings support threshold and bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, cohen_kappa_score, f1_score

from incident_lens.scoring.scores import bootstrap_intervals, decisions, row_correct, score_predictions
from incident_lens.inputs.task_files import Label, Task


def _task(kind: str, names: list[str]) -> Task:
    return Task("t", kind, "d", ("text",), tuple(Label(n, n) for n in names))


def test_single_label_scores_match_scikit_learn():
    task = _task("single", ["a", "b", "c"])
    rng = np.random.default_rng(0)
    gold = rng.choice(["a", "b", "c"], size=200, p=[0.6, 0.3, 0.1]).tolist()
    pred = [g if rng.random() < 0.7 else rng.choice(["a", "b", "c"]) for g in gold]
    scores = score_predictions(task, gold, pred)
    assert scores["macro_f1"] == pytest.approx(f1_score(gold, pred, average="macro"))
    assert scores["micro_f1"] == pytest.approx(f1_score(gold, pred, average="micro"))
    assert scores["accuracy"] == pytest.approx(accuracy_score(gold, pred))
    assert scores["kappa"] == pytest.approx(cohen_kappa_score(gold, pred))
    assert scores["per_label"]["c"]["support"] == gold.count("c")
    for key in ("macro_f1", "micro_f1", "accuracy"):
        low, high = scores["ci95"][key]
        assert low < scores[key] < high and high - low < 0.3


def test_bootstrap_without_resampling_gives_the_point_estimate():
    # All-ones weights are the original sample: the matrix arithmetic must equal scikit-learn.
    task = _task("single", ["a", "b", "c"])
    gold = ["a", "a", "b", "c", "c", "b", "a"]
    pred = ["a", "b", "b", "c", "a", "b", "c"]
    g, p = decisions(task, gold), decisions(task, pred)
    averaged = np.ones(3, dtype=bool)

    class Unresampled:
        def multinomial(self, n, pvals, size):
            return np.ones((size, n))

    import incident_lens.scoring.scores as metrics

    original = metrics.np.random.default_rng
    metrics.np.random.default_rng = lambda seed: Unresampled()
    try:
        ci = bootstrap_intervals(g, p, row_correct(task, gold, pred), averaged, n_boot=10)
    finally:
        metrics.np.random.default_rng = original
    assert ci["macro_f1"][0] == pytest.approx(f1_score(gold, pred, average="macro"))
    assert ci["accuracy"][1] == pytest.approx(accuracy_score(gold, pred))


def test_missing_predictions_count_as_wrong():
    task = _task("single", ["a", "b"])
    scores = score_predictions(task, ["a", "b", "a", "b"], ["a", None, "a", "b"])
    assert scores["accuracy"] == 0.75 and scores["no_answer"] == 1
    assert scores["per_label"]["b"]["recall"] == 0.5 and scores["per_label"]["b"]["precision"] == 1.0


def test_multi_label_exact_match_and_per_label_f1():
    task = _task("multi", ["x", "y", "z"])
    gold = [("x",), ("x", "y"), (), ("z",)]
    pred = [("x",), ("x",), (), ("y",)]
    scores = score_predictions(task, gold, pred)
    assert scores["accuracy"] == 0.5
    assert scores["per_label"]["x"]["f1"] == 1.0 and scores["per_label"]["y"]["f1"] == 0.0
    assert scores["micro_f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 2))


def test_findings_score_positive_against_the_rest_over_supported_findings():
    task = _task("findings", ["Effusion", "Hernia"])
    gold = [{"Effusion": "positive", "Hernia": "not_mentioned"}] * 5 + [{"Effusion": "negative", "Hernia": "positive"}]
    pred = [{"Effusion": "positive", "Hernia": "not_mentioned"}] * 4 + [{"Effusion": "uncertain", "Hernia": "not_mentioned"},
                                                                         {"Effusion": "not_mentioned", "Hernia": "positive"}]
    scores = score_predictions(task, gold, pred, min_support=5)
    # Hernia has one gold positive: shown, not averaged. Uncertain is not positive.
    assert scores["averaged_over"] == ["Effusion"]
    assert scores["per_label"]["Hernia"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1, "predicted": 1, "averaged": False}
    assert scores["macro_f1"] == pytest.approx(2 * 4 / (2 * 4 + 0 + 1))
    # Exact match of statuses: the "negative" read as "not_mentioned" is wrong in row 6.
    assert scores["accuracy"] == pytest.approx(4 / 6)
    assert scores["status_f1"]["negative"]["support"] == 1 and scores["status_f1"]["negative"]["recall"] == 0.0
    assert scores["min_support"] == 5


def test_findings_with_no_supported_finding_have_no_average():
    task = _task("findings", ["Effusion"])
    scores = score_predictions(task, [{"Effusion": "positive"}], [{"Effusion": "positive"}], min_support=5)
    assert scores["macro_f1"] is None and scores["accuracy"] == 1.0 and "macro_f1" not in scores["ci95"]


def test_kappa_is_undefined_not_perfect_when_gold_and_predictions_share_one_class():
    single = score_predictions(_task("single", ["a", "b"]), ["a"] * 4, ["a"] * 4)
    assert single["kappa"] is None and single["kappa_note"] == "undefined: gold and predictions are all 'a'"
    assert single["accuracy"] == 1.0

    multi = score_predictions(_task("multi", ["x", "y"]), [()] * 3, [()] * 3)
    assert multi["kappa"] is None and multi["kappa_note"] == "undefined: gold and predictions are all 'no'"
    findings = score_predictions(_task("findings", ["Effusion"]), [{"Effusion": "not_mentioned"}] * 3,
                                 [{"Effusion": "not_mentioned"}] * 3)
    assert findings["kappa"] is None and "all 'not_mentioned'" in findings["kappa_note"]

    # One class in the gold but another predicted once: defined, and no better than chance.
    gold, pred = ["a"] * 4, ["a", "b", "a", "a"]
    scores = score_predictions(_task("single", ["a", "b"]), gold, pred)
    assert scores["kappa"] == pytest.approx(cohen_kappa_score(gold, pred)) == 0.0 and scores["kappa_note"] is None
