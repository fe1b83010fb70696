"""`incident-lens evaluate` end to end with the baselines: table, report files, split reuse, bad input."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from incident_lens.cli import app

TASK = """
name = "topic"
kind = "single"
description = "What the incident was about."
input_fields = ["description"]
label_column = "topic"
[[labels]]
name = "fall"
definition = "A fall."
[[labels]]
name = "medication"
definition = "A medication error."
[[labels]]
name = "device"
definition = "A device failure."
"""

PHRASES = {
    "fall": ["patient found on the floor beside the bed", "slipped in the bathroom and fell", "unwitnessed fall from a chair"],
    "medication": ["insulin dose given twice", "wrong drug dispensed by pharmacy", "enoxaparin dose omitted on the ward"],
    "device": ["infusion pump alarm failed", "defibrillator battery was flat", "syringe driver stopped without warning"],
}


def _gold(path: Path, n_per_topic: int, seed: int, prefix: str = "r") -> Path:
    rng = random.Random(seed)
    rows = []
    for topic, phrases in PHRASES.items():
        for i in range(n_per_topic):
            rows.append({"id": f"{prefix}{topic[:3]}{i}", "description": f"{rng.choice(phrases)} in bay {rng.randint(1, 9)}", "topic": topic})
    rng.shuffle(rows)
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture
def task_file(tmp_path) -> Path:
    path = tmp_path / "topic.toml"
    path.write_text(TASK, encoding="utf-8")
    return path


def test_evaluate_baselines_writes_the_report(home, tmp_path, task_file):
    gold = _gold(tmp_path / "gold.csv", 20, seed=1)
    report = tmp_path / "report"
    result = CliRunner().invoke(app, ["evaluate", "--task", str(task_file), "--gold", str(gold), "--method", "tfidf-lr",
                                      "--method", "embed-lr", "--method", "knn", "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert "tfidf-lr" in result.output and "macro-F1" in result.output

    metrics = json.loads((report / "metrics.json").read_text())
    assert set(metrics["methods"]) == {"tfidf-lr", "embed-lr", "knn"}
    assert metrics["split"]["counts"] == {"train": 36, "dev": 12, "test": 12}
    for scores in metrics["methods"].values():
        assert scores["n"] == 12 and 0.5 < scores["macro_f1"] <= 1.0
        low, high = scores["ci95"]["macro_f1"]
        assert low <= scores["macro_f1"] <= high
        assert set(scores["per_label"]) == {"fall", "medication", "device"}
        assert {"precision", "recall", "f1", "support"} <= set(scores["per_label"]["fall"])
        assert "kappa" in scores and "micro_f1" in scores and "accuracy" in scores

    predictions = pd.read_csv(report / "predictions.csv", dtype=str, keep_default_na=False)
    assert len(predictions) == 12
    assert {"id", "gold", "tfidf-lr", "tfidf-lr_correct", "knn", "n_correct", "methods_agree"} <= set(predictions.columns)
    gold_rows = pd.read_csv(gold, dtype=str).set_index("id")
    assert all(gold_rows.loc[i, "topic"] == g for i, g in zip(predictions["id"], predictions["gold"]))

    for name in ("tfidf-lr", "embed-lr", "knn"):
        assert (report / f"confusion-{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (report / "report.md").read_text()
    assert "## Headline" in text and "confusion-knn.png" in text and "## Worst errors" in text

    manifests = list((home / "runs").glob("*-evaluate/manifest.json"))
    assert len(manifests) == 1
    manifest = json.loads(manifests[0].read_text())
    assert manifest["status"] == "ok" and set(manifest["methods"]) == {"tfidf-lr", "embed-lr", "knn"}
    assert "bay" not in manifests[0].read_text()  # no report text in the manifest


def test_recorded_split_is_reused_across_runs(home, tmp_path, task_file):
    gold = _gold(tmp_path / "gold.csv", 10, seed=2)
    runner = CliRunner()
    first = runner.invoke(app, ["evaluate", "--task", str(task_file), "--gold", str(gold), "--method", "tfidf-lr",
                                "--report", str(tmp_path / "a"), "--split-seed", "5"])
    assert first.exit_code == 0, first.output
    record = home / "splits" / "topic--gold.split.json"
    assignments = json.loads(record.read_text())["assignments"]
    second = runner.invoke(app, ["evaluate", "--task", str(task_file), "--gold", str(gold), "--method", "tfidf-lr",
                                 "--report", str(tmp_path / "b"), "--split-seed", "6"])
    assert second.exit_code == 0, second.output
    assert "recorded seed 5 is kept" in second.output
    test_a = pd.read_csv(tmp_path / "a" / "predictions.csv", dtype=str)["id"].tolist()
    test_b = pd.read_csv(tmp_path / "b" / "predictions.csv", dtype=str)["id"].tolist()
    assert test_a == test_b == [i for i in pd.read_csv(gold, dtype=str)["id"] if assignments[i] == "test"]


def test_separate_train_file_and_json_output(home, tmp_path, task_file):
    train = _gold(tmp_path / "train.csv", 10, seed=3, prefix="t")
    test = _gold(tmp_path / "test.csv", 5, seed=4, prefix="x")
    result = CliRunner().invoke(app, ["evaluate", "--task", str(task_file), "--gold", str(test), "--train", str(train),
                                      "--method", "tfidf-lr", "--format", "json", "--report", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # progress goes to stderr in json mode
    assert data["methods"]["tfidf-lr"]["n"] == 15
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["split"] is None and metrics["train"]["rows"] == 30
    assert not (home / "splits").exists()


def test_bad_gold_label_and_unknown_method_are_one_line_errors(home, tmp_path, task_file):
    gold = _gold(tmp_path / "gold.csv", 5, seed=5)
    frame = pd.read_csv(gold, dtype=str)
    frame.loc[3, "topic"] = "weather"
    frame.to_csv(gold, index=False)
    result = CliRunner().invoke(app, ["evaluate", "--task", str(task_file), "--gold", str(gold), "--method", "tfidf-lr"])
    assert result.exit_code == 2
    assert "'weather' (row 4)" in result.output and "Traceback" not in result.output

    good = _gold(tmp_path / "good.csv", 5, seed=5)
    result = CliRunner().invoke(app, ["evaluate", "--task", str(task_file), "--gold", str(good), "--method", "svm"])
    assert result.exit_code == 2 and "--method svm: unknown" in result.output
