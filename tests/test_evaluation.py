"""`incident-lens evaluate` end to end with the baselines: table, report files, split reuse, bad input."""

from __future__ import annotations

import json
import random
import re
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
    from incident_lens.pipelines.demo_steps import evaluate_demo

    summary = evaluate_demo(Settings(home=home), tasks=("harm",), limit=10)
    harm = summary["harm"]
    assert harm["test_rows"] == 10 and set(harm["methods"]) == {"tfidf-lr", "embed-lr", "knn"}
    report = Path(harm["report"])
    assert report == home / "reports" / "demo-evaluation" / "harm" / "report.md" and report.is_file()
    metrics = json.loads((report.parent / "metrics.json").read_text())
    assert metrics["gold"]["test_rows"] == 10 and metrics["split"]["counts"]["train"] == metrics["train"]["rows"]


def test_evaluate_demo_on_a_few_findings_rows_still_scores(home, session_minilm):
    """8 reports hold fewer than 5 positives of any finding: the demo averages over those present."""
    from incident_lens.config import Settings
    from incident_lens.pipelines.demo_steps import evaluate_demo

    summary = evaluate_demo(Settings(home=home), tasks=("cxr-findings",), limit=8)
    metrics = json.loads((Path(summary["cxr-findings"]["report"]).parent / "metrics.json").read_text())
    assert metrics["methods"]["tfidf-lr"]["min_support"] == 1
    assert metrics["methods"]["tfidf-lr"]["macro_f1"] is not None


@pytest.mark.slow
def test_evaluate_demo_with_a_model_adds_the_llm_programs(home, tiny_gguf, session_minilm):
    from incident_lens.config import Settings
    from incident_lens.pipelines.demo_steps import evaluate_demo

    settings = Settings(home=home, model_path=tiny_gguf, threads=1, confidence_samples=1)
    summary = evaluate_demo(settings, tasks=("harm",), limit=2)
    methods = summary["harm"]["methods"]
    assert set(methods) == {"tfidf-lr", "embed-lr", "knn", "zero-shot", "rag", "program:harm"}
    assert all(m["n"] == 2 for m in methods.values())
    # With a sampled answer per report, the LLM programs have a confidence, so accuracy against coverage.
    metrics = json.loads((Path(summary["harm"]["report"]).parent / "metrics.json").read_text())
    assert all(metrics["methods"][m]["coverage"]["80"]["n"] == 2 for m in ("zero-shot", "rag", "program:harm"))
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


FINDINGS_TASK = """
name = "cxr"
kind = "findings"
description = "Findings on a chest X-ray report."
input_fields = ["text"]
[[labels]]
name = "Effusion"
definition = "Fluid in the pleural space."
"""


def test_cross_validated_c_and_class_weights_are_recorded_in_metrics_json(home, tmp_path):
    from test_baselines import _effusion_rows  # a set where C = 1 under-fits

    task = tmp_path / "cxr.toml"
    task.write_text(FINDINGS_TASK, encoding="utf-8")

    def write(path: Path, seed: int, n: int, prefix: str) -> Path:
        texts, labels = _effusion_rows(seed, n)
        pd.DataFrame({"id": [f"{prefix}{i}" for i in range(n)], "text": texts,
                      "Effusion": [value["Effusion"] for value in labels]}).to_csv(path, index=False)
        return path

    train, test = write(tmp_path / "train.csv", 0, 120, "t"), write(tmp_path / "test.csv", 100, 200, "x")
    result = CliRunner().invoke(app, ["evaluate", "--task", str(task), "--gold", str(test), "--train", str(train),
                                      "--method", "tfidf-lr", "--report", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    method = json.loads((tmp_path / "r" / "metrics.json").read_text())["methods"]["tfidf-lr"]
    chosen = method["details"]["tuning"]["targets"]["Effusion"]
    assert chosen["C"] > 1 and chosen["cv_macro_f1"] > chosen["cv_scores"]["C=1, class_weight=balanced"]
    assert "train rows only" in method["details"]["tuning"]["search"]
    assert method["macro_f1"] > 0.95


def test_kappa_of_a_single_class_is_undefined_in_the_table_and_the_report(home, tmp_path, task_file):
    rows = [{"id": f"f{i}", "description": f"{PHRASES['fall'][i % 3]} in bay {i}", "topic": "fall"} for i in range(15)]
    gold = tmp_path / "falls.csv"
    pd.DataFrame(rows).to_csv(gold, index=False)
    report = tmp_path / "r"
    result = CliRunner().invoke(app, ["evaluate", "--task", str(task_file), "--gold", str(gold), "--method", "tfidf-lr",
                                      "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert "undefined" in result.output
    scores = json.loads((report / "metrics.json").read_text())["methods"]["tfidf-lr"]
    assert scores["kappa"] is None and scores["kappa_note"] == "undefined: gold and predictions are all 'fall'"
    text = (report / "report.md").read_text()
    assert "| undefined |" in text and "Kappa of tfidf-lr: undefined: gold and predictions are all 'fall'" in text


def test_report_ends_with_a_recommendation_and_costs(home, tmp_path, task_file, session_minilm):
    gold = _gold(tmp_path / "gold.csv", 10, seed=8)
    report = tmp_path / "r"
    result = CliRunner().invoke(app, ["evaluate", "--task", str(task_file), "--gold", str(gold), "--method", "tfidf-lr",
                                      "--method", "knn", "--report", str(report)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((report / "metrics.json").read_text())
    scores = {name: m["macro_f1"] for name, m in metrics["methods"].items()}
    best = max(scores, key=scores.get)
    last = (report / "report.md").read_text().rstrip().split("\n## ")[-1]
    assert last.startswith("Recommendation\n")
    assert f"Recommendation: **{best}** has the best macro-F1 ({scores[best]:.3f} [" in last
    assert "Measured cost per 1,000 reports" in last
    assert "scaled from 6 test reports" in last
    for name, method in metrics["methods"].items():
        cost = float(re.search(rf"{name} ([\d,]+\.\d) s", last).group(1).replace(",", ""))
        assert cost == pytest.approx(method["seconds"] / 6 * 1000, abs=0.2)
    assert "LM tokens" not in last
    assert "Recommendation:" in result.output and metrics["recommendation"].startswith(f"Recommendation: {best} has")


def test_recommendation_names_those_within_the_interval_the_cheapest_and_lm_tokens():
    from incident_lens.pipelines.evaluation import Evaluation, MethodResult
    from incident_lens.scoring.evaluation_report import recommendation

    def method(name, macro, ci, seconds, details=None):
        return MethodResult(name, "baseline", [], [], {"macro_f1": macro, "ci95": {"macro_f1": ci}}, seconds, details or {})

    evaluation = Evaluation(task=None, test=[None] * 200, train=[], split=None)
    evaluation.methods = [method("zero-shot", 0.80, [0.74, 0.86], 500.0,
                                 {"lm_tokens": {"prompt_tokens": 90_000, "completion_tokens": 10_000}}),
                          method("tfidf-lr", 0.78, [0.71, 0.84], 2.0), method("knn", 0.60, [0.52, 0.68], 20.0)]
    text = recommendation(evaluation)
    assert text.startswith("Recommendation: zero-shot has the best macro-F1 (0.800 [0.740, 0.860]); "
                           "within its 95 % interval: tfidf-lr (0.780); tfidf-lr, the cheapest of these, is as good")
    assert "knn (0.600)" not in text
    assert "zero-shot 2,500.0 s and 500,000 LM tokens; tfidf-lr 10.0 s; knn 100.0 s." in text

    evaluation.methods = evaluation.methods[:1] + evaluation.methods[2:]
    assert "no other method is within its 95 % interval" in recommendation(evaluation)
