"""`incident-lens evaluate` end to end with the baselines: table, report files, split reuse, bad input."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from incident_lens.cli import app
from topic_task import TASK


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


_MEMO: dict = {}


@pytest.fixture
def session_minilm(monkeypatch, embedder):
    """evaluate_demo builds its own embedder: hand it the session's MiniLM (memoised across these tests)."""
    import incident_lens.pipelines.evaluation as evaluation
    from incident_lens.pipelines.baselines import MemoEmbedder

    memo = _MEMO.setdefault("memo", MemoEmbedder(embedder))
    monkeypatch.setattr(evaluation, "make_embedder", lambda _settings: memo)


def test_evaluate_demo_writes_a_report_per_task(home, session_minilm):
    from incident_lens.config import Settings
    from incident_lens.pipelines.demo import evaluate_demo

    summary = evaluate_demo(Settings(home=home), tasks=("harm",), limit=10)
    harm = summary["harm"]
    assert harm["test_rows"] == 10 and set(harm["methods"]) == {"tfidf-lr", "embed-lr", "knn"}
    report = Path(harm["report"])
    assert report == home / "reports" / "demo-evaluation" / "harm" / "report.md" and report.is_file()
    metrics = json.loads((report.parent / "metrics.json").read_text())
    assert metrics["gold"]["test_rows"] == 10 and metrics["split"]["counts"]["train"] == metrics["train"]["rows"]


@pytest.mark.slow
def test_evaluate_demo_with_a_model_adds_the_llm_programs(home, tiny_gguf, session_minilm):
    from incident_lens.config import Settings
    from incident_lens.pipelines.demo import evaluate_demo

    settings = Settings(home=home, model_path=tiny_gguf, threads=1)
    summary = evaluate_demo(settings, tasks=("harm",), limit=2)
    methods = summary["harm"]["methods"]
    assert set(methods) == {"tfidf-lr", "embed-lr", "knn", "zero-shot", "program:harm"}
    assert all(m["n"] == 2 for m in methods.values())
    # The shipped program was compiled without a model: the run says its scores do not carry over.
    assert any("optimized/harm.json" in w and "not the model in use" in w for w in summary["harm"]["warnings"])


MULTI_TASK = """
name = "factors"
kind = "multi"
description = "Contributing factors."
input_fields = ["text"]
[[labels]]
name = "staffing"
definition = "Too few staff."
[[labels]]
name = "equipment"
definition = "Kit failed."
"""


def test_multi_label_gold_from_indicator_columns_is_evaluated_per_label(home, tmp_path):
    task = tmp_path / "factors.toml"
    task.write_text(MULTI_TASK, encoding="utf-8")
    rng = random.Random(7)
    rows = []
    for i in range(40):
        staffing, equipment = rng.random() < 0.5, rng.random() < 0.5
        words = (["only one nurse on shift"] if staffing else []) + (["the pump broke"] if equipment else []) or ["nothing of note"]
        rows.append({"id": f"m{i}", "text": " and ".join(words) + f" on day {i}", "staffing": int(staffing), "equipment": int(equipment)})
    gold = tmp_path / "factors.csv"
    pd.DataFrame(rows).to_csv(gold, index=False)
    report = tmp_path / "r"
    result = CliRunner().invoke(app, ["evaluate", "--task", str(task), "--gold", str(gold), "--method", "tfidf-lr", "--report", str(report)])
    assert result.exit_code == 0, result.output
    scores = json.loads((report / "metrics.json").read_text())["methods"]["tfidf-lr"]
    assert set(scores["per_label"]) == {"staffing", "equipment"} and scores["macro_f1"] > 0.8
    predictions = pd.read_csv(report / "predictions.csv", dtype=str, keep_default_na=False)
    by_id = {r["id"]: r for r in rows}
    for id_, shown in zip(predictions["id"], predictions["gold"]):
        expected = [n for n in ("staffing", "equipment") if by_id[id_][n]]
        assert shown == "; ".join(expected)
    assert (report / "confusion-tfidf-lr.png").is_file()
