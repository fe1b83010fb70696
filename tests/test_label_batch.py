"""`incident-lens label` and `label_file`: rows, manifest, kill and resume, error rows, truncation, RAG, bad input."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dspy
import pandas as pd
import pytest
from dspy.utils.dummies import DummyLM
from typer.testing import CliRunner

from incident_lens.cli import app
from incident_lens.config import Settings
from incident_lens.errors import UserError
from incident_lens.hashing import file_sha256
from incident_lens.pipelines.labelling import index_retriever, label_file, output_header
from incident_lens.pipelines.predicting import predict_one
from incident_lens.inputs.task_files import Label, Task, find_task
from programs import build_program

from conftest import DEMO_DIR

runner = CliRunner()


@pytest.fixture(scope="module")
def demo_frame() -> pd.DataFrame:
    return pd.read_csv(DEMO_DIR / "incidents.csv", dtype=str, keep_default_na=False)


def write_reports(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


def read_rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def settings_for(home: Path, model: Path, **kw) -> Settings:
    return Settings(home=home, model_path=model, threads=1, **{"n_ctx": 4096, **kw})


def test_label_command_writes_one_row_per_report_and_a_manifest(home, tiny_gguf, demo_frame, tmp_path):
    reports = write_reports(tmp_path / "reports.csv", demo_frame.head(4))
    out = tmp_path / "labels.csv"
    result = runner.invoke(app, ["--home", str(home), "label", str(reports), "--task", "harm", "--model", str(tiny_gguf),
                                 "--out", str(out), "--threads", "1"])
    assert result.exit_code == 0, result.output
    task = find_task("harm")
    rows = read_rows(out)
    assert list(rows[0]) == output_header(task)
    assert [r["id"] for r in rows] == list(demo_frame.head(4)["id"])
    assert all(r["status"] == "ok" and r["label"] in task.label_names for r in rows)
    assert all(int(r["prompt_tokens"]) > 0 and int(r["completion_tokens"]) > 0 and float(r["latency_s"]) > 0 for r in rows)
    for r in rows:
        quotes = json.loads(r["evidence"])
        assert (r["evidence_verified"] == "true") == (bool(quotes) and json.loads(r["unsupported_evidence"]) == [])

    [run_dir] = (home / "runs").iterdir()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["command"] == "label" and manifest["status"] == "ok"
    assert manifest["inputs"]["reports"]["sha256"] == file_sha256(reports)
    assert manifest["inputs"]["model"]["sha256"] == file_sha256(tiny_gguf)
    assert manifest["inputs"]["task"]["sha256"] == task.sha256
    assert manifest["model"]["model_string"].endswith(file_sha256(tiny_gguf))
    assert manifest["program"] == {"name": "zero-shot", "builtin": True}
    assert manifest["counts"]["ok"] == 4 and manifest["counts"].get("error", 0) == 0
    assert manifest["versions"]["dspy"] and manifest["versions"]["llama_cpp_python"]
    text = json.dumps(manifest)
    assert not any(description[:40] in text for description in demo_frame.head(4)["description"])


def test_interrupted_run_resumes_without_loss_or_duplicates(home, tiny_gguf, demo_frame, tmp_path):
    reports = write_reports(tmp_path / "reports.csv", demo_frame.head(6))
    out = tmp_path / "labels.csv"
    settings = settings_for(home, tiny_gguf)

    def stop_after_three(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        label_file(settings, reports, "harm", out, progress=stop_after_three)
    before = out.read_bytes()
    assert len(read_rows(out)) == 3
    # A kill in the middle of a write leaves half a line behind.
    with out.open("a", encoding="utf-8") as handle:
        handle.write(f"{demo_frame.iloc[3]['id']},No ha")
    summary = label_file(settings, reports, "harm", out, resume=True)
    rows = read_rows(out)
    assert [r["id"] for r in rows] == list(demo_frame.head(6)["id"])
    assert out.read_bytes().startswith(before)
    assert summary.counts["skipped"] == 3 and summary.counts["ok"] == 3
    statuses = sorted(json.loads((d / "manifest.json").read_text())["status"] for d in (home / "runs").iterdir())
    assert statuses == ["interrupted", "ok"]


def test_killed_process_loses_at_most_the_report_in_flight(home, tiny_gguf, demo_frame, tmp_path):
    reports = write_reports(tmp_path / "reports.csv", demo_frame.head(12))
    out = tmp_path / "labels.csv"
    args = ["--home", str(home), "label", str(reports), "--task", "harm", "--model", str(tiny_gguf), "--out", str(out), "--threads", "1"]
    proc = subprocess.Popen([sys.executable, "-c", "from incident_lens.cli import main; main()", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and out.read_bytes().count(b"\n") >= 4:  # header + 3 rows
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    written = [r["id"] for r in read_rows(out)]
    assert 3 <= len(written) < 12
    result = runner.invoke(app, [*args, "--resume"])
    assert result.exit_code == 0, result.output
    ids = [r["id"] for r in read_rows(out)]
    assert ids[: len(written)] == written
    assert sorted(ids) == sorted(demo_frame.head(12)["id"]) and len(ids) == len(set(ids))


def test_existing_output_is_never_overwritten(home, tiny_gguf, demo_frame, tmp_path):
    reports = write_reports(tmp_path / "reports.csv", demo_frame.head(2))
    out = tmp_path / "labels.csv"
    out.write_text("keep me\n")
    result = runner.invoke(app, ["--home", str(home), "label", str(reports), "--task", "harm", "--model", str(tiny_gguf), "--out", str(out)])
    assert result.exit_code == 2
    assert "--resume" in result.output and result.output.count("\n") == 1
    assert out.read_text() == "keep me\n"


def test_resume_refuses_a_file_written_for_another_task(home, tiny_gguf, demo_frame, tmp_path):
    reports = write_reports(tmp_path / "reports.csv", demo_frame.head(2))
    out = tmp_path / "labels.csv"
    out.write_text("id,labels,something\nINC-1,a,b\n")
    with pytest.raises(UserError, match="not this task's output"):
        label_file(settings_for(home, tiny_gguf), reports, "harm", out, resume=True)


def test_bad_model_fails_before_any_output_with_one_line(home, demo_frame, tmp_path):
    reports = write_reports(tmp_path / "reports.csv", demo_frame.head(2))
    model = tmp_path / "model.gguf"
    model.write_text("not a model")
    out = tmp_path / "labels.csv"
    result = runner.invoke(app, ["--home", str(home), "label", str(reports), "--task", "harm", "--model", str(model), "--out", str(out)])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and "not a GGUF file" in result.output and result.output.count("\n") == 1
    assert not out.exists()


def test_long_report_is_truncated_to_fit_and_flagged(home, tiny_gguf, demo_frame, tmp_path):
    long = demo_frame.head(2).copy()
    long.loc[long.index[1], "description"] = " ".join([long.iloc[1]["description"]] * 40)
    reports = write_reports(tmp_path / "reports.csv", long)
    out = tmp_path / "labels.csv"
    label_file(settings_for(home, tiny_gguf, n_ctx=2560), reports, "harm", out)
    short, cut = read_rows(out)
    assert short["status"] == "ok" and short["truncated"] == "false"
    assert cut["status"] == "ok" and cut["truncated"] == "true"


def test_reports_that_cannot_fit_become_error_rows_and_the_batch_goes_on(home, tiny_gguf, demo_frame, tmp_path):
    reports = write_reports(tmp_path / "reports.csv", demo_frame.head(3))
    out = tmp_path / "labels.csv"
    # The harm task's instructions alone need more than this context.
    summary = label_file(settings_for(home, tiny_gguf, n_ctx=1024), reports, "harm", out)
    rows = read_rows(out)
    assert len(rows) == 3 and all(r["status"].startswith("error: report too long") for r in rows)
    assert all(r["label"] == "" for r in rows)
    assert summary.counts["error"] == 3


TASK = Task("kind", "single", "What kind of incident.", ("text",), (Label("Fall", "a fall"), Label("Medication", "a drug error")))


def test_unparseable_answer_is_retried_then_becomes_an_error_row():
    garbage = {"evidence": "not a list", "rationale": "x", "label": "Burns"}
    good = {"evidence": ["The patient fell."], "rationale": "a fall", "label": "Fall"}
    program = build_program(TASK)
    with dspy.context(lm=DummyLM([garbage, good], adapter=dspy.JSONAdapter())):
        retried = predict_one(program, TASK, "The patient fell.")
    assert retried.status == "ok" and retried.labels == "Fall" and retried.evidence_verified
    with dspy.context(lm=DummyLM([garbage, garbage], adapter=dspy.JSONAdapter())):
        failed = predict_one(program, TASK, "The patient fell.")
    assert failed.status == "error: answer did not match the output schema after 2 attempt(s)"
    assert failed.labels is None and not failed.evidence_verified


def test_rag_without_an_index_tells_the_user_how_to_build_one(home, tiny_gguf, demo_frame, tmp_path):
    reports = write_reports(tmp_path / "reports.csv", demo_frame.head(2))
    result = runner.invoke(app, ["--home", str(home), "label", str(reports), "--task", "harm", "--model", str(tiny_gguf),
                                 "--out", str(tmp_path / "labels.csv"), "--program", "rag"])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "incident-lens index" in result.output and "--meta harm" in result.output


def test_rag_labels_with_labelled_neighbours_only_and_never_the_report_itself(home, tiny_gguf, demo_frame, tmp_path):
    from incident_lens.pipelines.indexing import index_file, open_index

    labelled = demo_frame.head(20).copy()
    labelled.loc[labelled.index[:6], "harm"] = ""  # unlabelled reports in the index
    index_path = write_reports(tmp_path / "indexed.csv", labelled)
    settings = settings_for(home, tiny_gguf, n_ctx=8192)
    index_file(settings, index_path, meta_cols=["harm"], collection="incidents")
    task = find_task("harm")

    with open_index(settings, "incidents") as index:
        retrieve = index_retriever(index, task)
        for _, row in labelled.iloc[4:9].iterrows():
            text = "\n\n".join(f"{c}: {row[c]}" for c in task.input_fields if row[c])
            examples = retrieve(text, 3, row["id"])
            assert len(examples) == 3
            assert all(e.labels in task.label_names for e in examples)
            assert all(e.text != text for e in examples)

    reports = write_reports(tmp_path / "reports.csv", labelled.iloc[10:12])
    out = tmp_path / "labels.csv"
    summary = label_file(settings, reports, task, out, program="rag", k=2)
    rows = read_rows(out)
    assert [r["status"] for r in rows] == ["ok"] * 2 and all(r["label"] in task.label_names for r in rows)
    manifest = json.loads((summary.run_dir / "manifest.json").read_text())
    assert manifest["program"] == {"name": "rag", "builtin": True, "collection": "incidents", "k": 2}


def test_rag_counts_neighbours_it_cannot_use_warns_once_and_records_them(home, tiny_gguf, demo_frame, tmp_path):
    from incident_lens.pipelines.indexing import index_file

    indexed = demo_frame.head(20).copy()
    indexed.loc[indexed.index[:10], "harm"] = "Catastrophic"  # not a label of the harm task
    indexed.loc[indexed.index[10:], "harm"] = ""
    settings = settings_for(home, tiny_gguf, n_ctx=8192)
    index_file(settings, write_reports(tmp_path / "indexed.csv", indexed), meta_cols=["harm"], collection="incidents")
    reports = write_reports(tmp_path / "reports.csv", indexed.head(2))
    result = runner.invoke(app, ["--home", str(home), "label", str(reports), "--task", "harm", "--model", str(tiny_gguf),
                                 "--out", str(tmp_path / "labels.csv"), "--program", "rag", "-k", "2", "--n-ctx", "8192",
                                 "--threads", "1"])
    assert result.exit_code == 0, result.output

    [run_dir] = (home / "runs").glob("*-label")
    tally = json.loads((run_dir / "manifest.json").read_text())["rag_examples"]
    skipped = tally["unusable_neighbours"]
    assert tally["k"] == 2 and tally["reports"] == 2 and tally["examples"] == 0
    assert tally["fewer_than_k"] == tally["none"] == 2
    assert skipped["label_not_in_task"] >= 1 and skipped["unlabelled"] + skipped["label_not_in_task"] <= 18
    output = " ".join(result.output.split())
    assert output.count("could not be shown as examples") == 1
    assert (f"{skipped['unlabelled'] + skipped['label_not_in_task']} neighbour(s) in index 'incidents' could not be shown "
            f"as examples ({skipped['unlabelled']} unlabelled, {skipped['label_not_in_task']} with a label not in the task); "
            "2 of 2 report(s) got fewer than 2 examples (2 got none)") in output
    assert not any(text[:30] in result.output for text in indexed["description"])


def test_compiled_program_file_is_used_and_recorded(home, tiny_gguf, demo_frame, tmp_path):
    task = find_task("harm")
    program = build_program(task)
    row = demo_frame.iloc[100]
    program.label.demos = [dspy.Example(report=row["description"], label=row["harm"])]
    compiled = tmp_path / "harm-fewshot.json"
    program.save(str(compiled))
    reports = write_reports(tmp_path / "reports.csv", demo_frame.head(2))
    out = tmp_path / "labels.csv"
    summary = label_file(settings_for(home, tiny_gguf), reports, task, out, program=str(compiled))
    assert [r["status"] for r in read_rows(out)] == ["ok", "ok"]
    manifest = json.loads((summary.run_dir / "manifest.json").read_text())
    assert manifest["program"]["sha256"] == file_sha256(compiled) and manifest["program"]["kind"] == "zero-shot"
    assert manifest["inputs"]["program"]["sha256"] == file_sha256(compiled)


def test_unknown_program_is_a_user_error(home, tiny_gguf, demo_frame, tmp_path):
    reports = write_reports(tmp_path / "reports.csv", demo_frame.head(1))
    with pytest.raises(UserError, match="zero-shot, rag"):
        label_file(settings_for(home, tiny_gguf), reports, "harm", tmp_path / "labels.csv", program="fancy")


def test_answer_cut_off_by_max_tokens_is_an_error_row_not_a_repaired_answer(tiny_gguf, tmp_path):
    from incident_lens.llm import build_lm

    lm = build_lm(settings_for(tmp_path / "ws", tiny_gguf), cache=False)
    program = build_program(TASK)
    program.label.config["max_tokens"] = 8  # far too few for the JSON answer the grammar demands
    with dspy.context(lm=lm):
        result = predict_one(program, TASK, "The patient fell in the bathroom.")
    assert result.status.startswith("error: model call failed (LMInvalidRequestError: the answer reached max_tokens=8")
    assert result.labels is None and not result.evidence_verified


def test_predict_one_without_a_model_says_how_to_configure_one():
    with dspy.context(lm=None), pytest.raises(UserError, match="build_lm"):
        predict_one(build_program(TASK), TASK, "The patient fell.")


def test_compiled_program_for_another_task_is_refused_before_labelling(home, tiny_gguf, tmp_path):
    from typer.testing import CliRunner

    from incident_lens.cli import app

    repo = Path(__file__).resolve().parents[1]
    out = tmp_path / "labels.csv"
    result = CliRunner().invoke(app, ["label", str(repo / "data" / "gold" / "harm.csv"), "--task", "harm", "--model", str(tiny_gguf),
                                      "--program", str(repo / "optimized" / "incident-type.json"), "--out", str(out), "--limit", "2"])
    assert result.exit_code == 2, result.output
    assert "incident-type.json" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_llm_confidence_is_the_agreement_of_sampled_answers():
    fall = {"evidence": ["The patient fell."], "rationale": "a fall", "label": "Fall"}
    drug = {"evidence": ["The patient fell."], "rationale": "a drug", "label": "Medication"}
    program = build_program(TASK)
    with dspy.context(lm=DummyLM([fall] * 8, adapter=dspy.JSONAdapter())):
        plain = predict_one(program, TASK, "The patient fell.")
        sure = predict_one(program, TASK, "The patient fell.", samples=3)
    assert plain.confidence is None and sure.labels == "Fall" and sure.confidence == 1.0
    assert sure.completion_tokens >= plain.completion_tokens  # the samples' tokens are counted
    lm = DummyLM([fall] + [drug] * 4, adapter=dspy.JSONAdapter())
    copies, copy = [], lm.copy
    lm.copy = lambda **kw: copies.append(kw) or copy(**kw)
    with dspy.context(lm=lm):
        unsure = predict_one(program, TASK, "The patient fell.", samples=2)
    assert unsure.labels == "Fall" and unsure.confidence == 0.0
    # Each sample is its own draw: another rollout id (no cache replay) and another sampling seed.
    assert len({c["seed"] for c in copies}) == 2 and len({c["rollout_id"] for c in copies}) == 2
    assert all(c["temperature"] > 0 for c in copies)


def test_agreement_per_label_takes_the_least_agreed_label():
    from incident_lens.pipelines.predicting import agreement

    assert agreement(TASK, "Fall", ["Fall", "Medication", "Fall", None]) == 0.5
    multi = Task("tags", "multi", "Tags.", ("text",), (Label("A", "a"), Label("B", "b"), Label("C", "c")))
    # A: all agree it is present; B: 1 of 2 agree it is present; C: both agree it is absent.
    assert agreement(multi, ["A", "B"], [["A", "B"], ["A"]]) == 0.5
    assert agreement(multi, ["A"], [None, ["A"]]) == 0.5
    findings = find_task("cxr-findings")
    name = findings.label_names[0]
    chosen = {name: "positive"}
    assert agreement(findings, chosen, [{name: "positive"}, {name: "negative"}, {}]) == pytest.approx(1 / 3)
    assert agreement(findings, chosen, [chosen, chosen]) == 1.0


def test_label_with_confidence_samples_on_a_real_gguf_fills_the_confidence_column(home, tiny_gguf, demo_frame, tmp_path):
    reports = write_reports(tmp_path / "reports.csv", demo_frame.head(2))
    out = tmp_path / "labels.csv"
    result = runner.invoke(app, ["--home", str(home), "label", str(reports), "--task", "harm", "--model", str(tiny_gguf),
                                 "--out", str(out), "--threads", "1", "--confidence-samples", "2"])
    assert result.exit_code == 0, result.output
    rows = read_rows(out)
    assert len(rows) == 2
    for row in rows:
        if row["status"] == "ok":
            assert float(row["confidence"]) in (0.0, 0.5, 1.0)
        else:
            assert row["confidence"] == ""
    bad = runner.invoke(app, ["--home", str(home), "label", str(reports), "--task", "harm", "--model", str(tiny_gguf),
                              "--out", str(tmp_path / "other.csv"), "--confidence-samples", "-1"])
    assert bad.exit_code != 0 and "confidence_samples" in bad.output and "0 or more" in bad.output
