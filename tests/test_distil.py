"""Students (distil), students as methods in evaluate and label, accuracy at coverage, and the review queue."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from incident_lens.cli import app
from incident_lens.config import load_settings
from incident_lens.inputs.task_files import Label, Task, find_task
from incident_lens.pipelines.labelling import output_header
from incident_lens.scoring.coverage import accuracy_at_coverage
from incident_lens.students import load_student, make_student, save_student
from incident_lens.students.store import student_predict
from programs.labels import FINDING_STATUSES

REPO = Path(__file__).resolve().parents[1]
HARM_GOLD = REPO / "data" / "gold" / "harm.csv"
runner = CliRunner()

PHRASES = {
    "fall": ["patient found on the floor beside the bed", "slipped in the bathroom and fell", "unwitnessed fall from a chair"],
    "medication": ["insulin dose given twice by mistake", "wrong drug dispensed by pharmacy", "enoxaparin dose omitted"],
    "device": ["infusion pump alarm failed overnight", "defibrillator battery was flat", "syringe driver stopped without warning"],
}
TASKS = {
    "single": Task("topic", "single", "Topic.", ("text",), tuple(Label(n, n) for n in PHRASES), "topic"),
    "multi": Task("topics", "multi", "Topics.", ("text",), tuple(Label(n, n) for n in PHRASES)),
    "findings": Task("finds", "findings", "Findings.", ("text",), tuple(Label(n, n) for n in PHRASES)),
}


def _rows(kind: str, n: int, seed: int = 0) -> tuple[list[str], list]:
    rng = random.Random(seed)
    names = list(PHRASES)
    texts, labels = [], []
    for i in range(n):
        name = names[i % 3]
        texts.append(f"{rng.choice(PHRASES[name])} on ward {rng.randint(1, 30)}")
        if kind == "single":
            labels.append(name)
        elif kind == "multi":
            labels.append((name,))
        else:
            labels.append({m: ("positive" if m == name else "not_mentioned") for m in names})
    return texts, labels


def _in_task(task: Task, value) -> bool:
    if task.kind == "single":
        return value in task.label_names
    if task.kind == "multi":
        return set(value) <= set(task.label_names)
    return set(value) == set(task.label_names) and set(value.values()) <= set(FINDING_STATUSES)


@pytest.mark.parametrize("kind", ["single", "multi", "findings"])
@pytest.mark.parametrize("student_kind", ["tfidf-lr", "embed-lr", "encoder"])
def test_each_student_trains_saves_loads_and_predicts_in_the_task_label_set(home, tmp_path, kind, student_kind):
    task = TASKS[kind]
    settings = load_settings(home=home)
    texts, labels = _rows(kind, 24 if student_kind == "encoder" else 30)
    student = make_student(student_kind, task, settings, epochs=1, max_length=24, batch_size=8)
    student.fit(texts, labels, [2.0] * 6 + [1.0] * (len(texts) - 6))
    before, _ = student_predict(student, texts[:6])
    folder = save_student(student, tmp_path / "student", {"task": {"name": task.name, "kind": task.kind, "labels": task.label_names}})
    loaded, meta = load_student(folder, task, settings)
    after, confidence = student_predict(loaded, texts[:6])
    assert meta["student"] == student_kind
    assert after == before  # the saved student is the trained one
    assert all(_in_task(task, value) for value in after)
    assert all(0.0 <= c <= 1.0 for c in confidence)
    if student_kind != "encoder":  # a few encoder steps learn little; the LR students must learn these phrases
        held_texts, held_labels = _rows(kind, 9, seed=5)
        assert student_predict(loaded, held_texts)[0] == held_labels
    with pytest.raises(Exception, match="already exists"):
        save_student(student, folder, {})


def test_student_for_another_task_is_refused_with_one_line(home, tmp_path):
    settings = load_settings(home=home)
    texts, labels = _rows("single", 30)
    student = make_student("tfidf-lr", TASKS["single"], settings).fit(texts, labels)
    task = TASKS["single"]
    folder = save_student(student, tmp_path / "s", {"task": {"name": task.name, "kind": task.kind, "labels": task.label_names}})
    with pytest.raises(Exception, match="trained for task 'topic'"):
        load_student(folder, TASKS["multi"], settings)


def test_accuracy_at_coverage_keeps_the_most_confident_reports():
    correct = [True, True, False, True, False, True, True, True, True, False]
    confidence = [0.99, 0.95, 0.10, 0.90, 0.20, 0.85, 0.80, 0.75, 0.70, 0.30]
    out = accuracy_at_coverage(correct, confidence)
    assert out["80"] == {"accuracy": 7 / 8, "n": 8, "min_confidence": 0.3}
    assert out["90"]["n"] == 9 and out["90"]["accuracy"] == pytest.approx(7 / 9)
    assert out["95"]["n"] == 10 and out["95"]["accuracy"] == pytest.approx(0.7)
    assert accuracy_at_coverage(correct, [None] * 10) is None


def _write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _read(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_distil_evaluate_and_label_with_a_student_through_the_cli(home, tmp_path):
    student_dir = tmp_path / "harm-student"
    result = runner.invoke(app, ["distil", "--task", "harm", "--gold", str(HARM_GOLD), "--student", "tfidf-lr",
                                 "--out", str(student_dir)])
    assert result.exit_code == 0, result.output
    meta = json.loads((student_dir / "meta.json").read_text())
    assert meta["trained_on_reports"] is True and meta["counts"] == {"gold": 200}
    assert meta["held_out"]["what"] == "gold test split" and meta["held_out"]["rows"] == 50
    assert meta["data"]["gold"]["sha256"] and meta["versions"]["scikit-learn"]

    report = tmp_path / "report"
    result = runner.invoke(app, ["evaluate", "--task", "harm", "--gold", str(HARM_GOLD), "--method", "tfidf-lr",
                                 "--method", str(student_dir), "--report", str(report)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((report / "metrics.json").read_text())
    scored = metrics["methods"]["student:harm-student"]
    assert scored["kind"] == "student" and scored["n"] == 50
    # The student's held-out score is the one evaluate gets on the same test rows.
    assert scored["macro_f1"] == pytest.approx(meta["held_out"]["scores"]["macro_f1"])
    assert set(scored["coverage"]) == {"80", "90", "95"} and metrics["methods"]["tfidf-lr"]["coverage"]["80"]["n"] == 40
    assert "## Accuracy against coverage" in (report / "report.md").read_text()

    assert meta["text_cols"] == ["description", "actions", "causes"]  # the harm gold file's task input fields
    reports = _write_csv(tmp_path / "reports.csv", ["id", "description", "actions", "causes"],
                         [[f"R{i}", text, "Datix completed", ""] for i, text in enumerate([
                             "Patient fell from bed and broke a hip, surgery needed.", "Wrong dose of insulin given, no harm.",
                             "Patient died after a missed sepsis diagnosis."])])
    out = tmp_path / "labels.csv"
    result = runner.invoke(app, ["label", str(reports), "--task", "harm", "--program", str(student_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = _read(out)
    task = find_task("harm")
    assert list(rows[0]) == output_header(task) and [r["id"] for r in rows] == ["R0", "R1", "R2"]
    assert all(r["label"] in task.label_names and r["status"] == "ok" and 0 < float(r["confidence"]) <= 1 for r in rows)
    assert all(r["evidence"] == "[]" and r["evidence_verified"] == "false" for r in rows)
    again = runner.invoke(app, ["label", str(reports), "--task", "harm", "--program", str(student_dir), "--out", str(out), "--resume"])
    assert again.exit_code == 0 and len(_read(out)) == 3  # resumed: nothing twice


def test_pseudo_labels_corrections_and_overlap_refusal(home, tmp_path):
    """Pseudo-labels (status ok only) teach a student; a student trained on gold test rows is refused by evaluate."""
    import pandas as pd

    gold = pd.read_csv(HARM_GOLD, dtype=str, keep_default_na=False)
    reports = tmp_path / "reports.csv"
    gold.drop(columns=["harm"]).to_csv(reports, index=False)
    labels = _write_csv(tmp_path / "pseudo.csv", ["id", "label", "status"],
                        [[i, h, "ok"] for i, h in zip(gold["id"], gold["harm"])] + [])
    rows = _read(labels)
    rows[0]["status"], rows[0]["label"] = "error: answer did not match the output schema after 2 attempt(s)", ""
    _write_csv(labels, ["id", "label", "status"], [list(r.values()) for r in rows])
    student_dir = tmp_path / "pseudo-student"
    result = runner.invoke(app, ["distil", "--task", "harm", "--labels", str(labels), "--reports", str(reports),
                                 "--out", str(student_dir)])
    assert result.exit_code == 0, result.output
    meta = json.loads((student_dir / "meta.json").read_text())
    assert meta["counts"]["pseudo"] + meta["held_out"]["rows"] == len(gold) - 1  # the error row left out
    assert meta["held_out"]["what"] == "pseudo-labels"
    assert any("status 'error'" in note for note in meta["notes"])
    refused = runner.invoke(app, ["evaluate", "--task", "harm", "--gold", str(HARM_GOLD), "--method", str(student_dir)])
    assert refused.exit_code == 2 and "trained on" in refused.output and "--allow-overlap" in refused.output

    queue = _write_csv(tmp_path / "queue.csv", ["rank", "id", "current", "suggested", "confidence", "reason", "corrected"],
                       [[1, gold["id"][1], gold["harm"][1], "Death", "0.9", "test", "Death"],
                        [2, gold["id"][2], gold["harm"][2], "Low", "0.9", "test", ""]])
    corrected = tmp_path / "corrected-student"
    result = runner.invoke(app, ["distil", "--task", "harm", "--gold", str(HARM_GOLD), "--labels", str(labels),
                                 "--reports", str(reports), "--corrections", str(queue), "--out", str(corrected)])
    assert result.exit_code == 0, result.output
    meta = json.loads((corrected / "meta.json").read_text())
    # Every pseudo id is a gold id here: gold wins, and the one correction turns its row into a reviewed one.
    assert meta["counts"].get("pseudo", 0) == 0 and meta["counts"].get("reviewed", 0) + meta["counts"]["gold"] == 200
    assert any("pseudo-label(s) of gold ids left out" in n for n in meta["notes"])


def test_distil_bad_inputs_are_one_line_errors(home, tmp_path):
    reports = _write_csv(tmp_path / "reports.csv", ["id", "description"], [[f"R{i}", f"patient fell {i}"] for i in range(6)])
    stranger = _write_csv(tmp_path / "stranger.csv", ["id", "label", "status"], [["R1", "Low", "ok"], ["X9", "Low", "ok"]])
    outside = _write_csv(tmp_path / "outside.csv", ["id", "label", "status"], [["R1", "Low", "ok"], ["R2", "Catastrophic", "ok"]])
    cases = [
        (["--labels", str(stranger), "--reports", str(reports)], "'X9' (row 2)"),
        (["--labels", str(outside), "--reports", str(reports)], "row 2 (id 'R2'): 'Catastrophic' is not a label of task 'harm'"),
        (["--labels", str(outside)], "--labels needs --reports"),
        ([], "give --gold, --labels"),
        (["--gold", str(HARM_GOLD), "--student", "bert"], "--student bert: unknown"),
    ]
    for extra, expected in cases:
        result = runner.invoke(app, ["distil", "--task", "harm", "--out", str(tmp_path / "s"), *extra])
        assert result.exit_code == 2, (extra, result.output)
        assert expected in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "s").exists()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    result = runner.invoke(app, ["distil", "--task", "harm", "--gold", str(HARM_GOLD), "--out", str(tmp_path / "taken")])
    assert result.exit_code == 2 and "already exists" in result.output
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"


def _topic_files(tmp_path: Path, flips: int, seed: int = 3) -> tuple[Path, Path, Path, set[str]]:
    """A topic task, its reports, and LLM-style labels with `flips` labels deliberately wrong."""
    from topic_task import TASK

    rng = random.Random(seed)
    task_file = tmp_path / "topic.toml"
    task_file.write_text(TASK, encoding="utf-8")
    texts, labels = _rows("single", 90, seed)
    ids = [f"T{i:03d}" for i in range(len(texts))]
    flipped = set(rng.sample(ids, flips))
    names = list(PHRASES)
    given = [names[(names.index(l) + 1) % 3] if i in flipped else l for i, l in zip(ids, labels)]
    reports = _write_csv(tmp_path / "topic-reports.csv", ["id", "description"], list(map(list, zip(ids, texts))))
    pseudo = _write_csv(tmp_path / "topic-labels.csv", ["id", "label", "confidence", "status"],
                        [[i, g, "", "ok"] for i, g in zip(ids, given)])
    return task_file, reports, pseudo, flipped


def test_review_queue_flags_deliberately_flipped_labels_first(home, tmp_path):
    task_file, reports, pseudo, flipped = _topic_files(tmp_path, flips=5)
    out = tmp_path / "queue.csv"
    result = runner.invoke(app, ["review-queue", "--task", str(task_file), "--labels", str(pseudo), "--reports", str(reports),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = _read(out)
    assert list(rows[0])[:5] == ["rank", "id", "current", "suggested", "confidence"] and "reason" in rows[0]
    top = [r["id"] for r in rows[:len(flipped)]]
    assert len(set(top) & flipped) >= 4, (top, flipped)
    first = next(r for r in rows if r["id"] in flipped)
    assert first["suggested"] != first["current"] and "cleanlab" in first["reason"] and first["corrected"] == ""
    assert [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))
    # The reviewer's corrections close the loop: distil reads them back.
    for r in rows:
        if r["id"] in flipped:
            r["corrected"] = r["suggested"]
    _write_csv(out, list(rows[0]), [list(r.values()) for r in rows])
    result = runner.invoke(app, ["distil", "--task", str(task_file), "--labels", str(pseudo), "--reports", str(reports),
                                 "--corrections", str(out), "--out", str(tmp_path / "st")])
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "st" / "meta.json").read_text())
    corrected = {r["id"] for r in rows if r["id"] in flipped} & set(meta["train_ids"])
    assert corrected and meta["counts"]["reviewed"] == len(corrected)


def test_review_queue_empty_state_and_bad_inputs(home, tmp_path):
    task_file, reports, pseudo, _ = _topic_files(tmp_path, flips=0)
    out = tmp_path / "queue.csv"
    result = runner.invoke(app, ["review-queue", "--task", str(task_file), "--labels", str(pseudo), "--reports", str(reports),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "the queue is empty" in result.output
    assert out.read_text().strip().split(",")[:2] == ["rank", "id"] and len(_read(out)) == 0
    again = runner.invoke(app, ["review-queue", "--task", str(task_file), "--labels", str(pseudo), "--reports", str(reports),
                                "--out", str(out)])
    assert again.exit_code == 2 and "already exists" in again.output
    bad = _write_csv(tmp_path / "bad.csv", ["rank", "id", "current", "suggested", "confidence", "reason", "corrected"],
                     [[1, "T001", "fall", "device", "0.9", "x", "explosion"]])
    result = runner.invoke(app, ["distil", "--task", str(task_file), "--labels", str(pseudo), "--reports", str(reports),
                                 "--corrections", str(bad), "--out", str(tmp_path / "st")])
    assert result.exit_code == 2 and "row 1 (id 'T001'), column 'corrected': 'explosion' is not a label" in result.output


FINDINGS_TASK = """
name = "finds"
kind = "findings"
description = "Findings."
input_fields = ["description"]
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


def test_review_queue_on_a_findings_task_flags_gold_llm_disagreements(home, tmp_path):
    task_file = tmp_path / "finds.toml"
    task_file.write_text(FINDINGS_TASK, encoding="utf-8")
    names = list(PHRASES)
    texts, labels = _rows("findings", 60, seed=2)
    ids = [f"F{i:03d}" for i in range(len(texts))]
    gold = _write_csv(tmp_path / "gold.csv", ["id", "description", *names],
                      [[i, t, *[lab[n] for n in names]] for i, t, lab in zip(ids, texts, labels)])
    reports = _write_csv(tmp_path / "reports.csv", ["id", "description"], list(map(list, zip(ids, texts))))
    disagree = set(ids[:3])
    llm_rows = [[i, *["uncertain" if i in disagree else lab[n] for n in names], "ok"] for i, lab in zip(ids, labels)]
    pseudo = _write_csv(tmp_path / "llm.csv", ["id", *names, "status"], llm_rows)
    out = tmp_path / "queue.csv"
    result = runner.invoke(app, ["review-queue", "--task", str(task_file), "--gold", str(gold), "--labels", str(pseudo),
                                 "--reports", str(reports), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = {r["id"]: r for r in _read(out)}
    assert disagree <= set(rows)
    for id_ in disagree:
        assert "gold and LLM disagree" in rows[id_]["reason"] and rows[id_]["current_source"] == "gold"
        assert rows[id_]["llm"] == "fall=uncertain; medication=uncertain; device=uncertain"
        assert "=positive" in rows[id_]["current"]
