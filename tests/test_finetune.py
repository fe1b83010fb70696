"""Fine-tuning into weights on a tiny project-written llama GGUF: the Q/K permutation against llama.cpp, the
prompt trained on is the prompt sent, save -> load -> label through llama.cpp, resume after a kill, every
task kind, bad inputs."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from incident_lens.cli import app
from incident_lens.config import Settings
from incident_lens.errors import UserError
from incident_lens.inputs.task_files import find_task, load_task_file
from topic_task import TASK

REPO = Path(__file__).resolve().parents[1]
PHRASES = {"fall": ["found on the floor", "slipped and fell"], "medication": ["insulin dose given twice", "dose omitted"],
           "device": ["pump alarm failed", "battery flat"]}
MULTI_TASK = """
name = "factors"
kind = "multi"
description = "Contributing factors."
input_fields = ["text"]
label_column = "factors"
[[labels]]
name = "staffing"
definition = "Too few staff."
[[labels]]
name = "equipment"
definition = "Kit failed."
"""


def _topic_gold(path: Path, per_topic: int = 8) -> Path:
    rng = random.Random(1)
    rows = [{"id": f"{topic[:3]}{i}", "description": f"{rng.choice(phrases)} in bay {topic[:3]}-{i}", "topic": topic}
            for topic, phrases in PHRASES.items() for i in range(per_topic)]
    rng.shuffle(rows)
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture
def topic(tmp_path):
    task_path = tmp_path / "topic.toml"
    task_path.write_text(TASK, encoding="utf-8")
    return load_task_file(task_path), _topic_gold(tmp_path / "gold.csv")


def _settings(home: Path, model: Path) -> Settings:
    return Settings(home=home, model_path=model, threads=2)


def _logits(path: Path, tokens: list[int]) -> np.ndarray:
    from llama_cpp import Llama

    llama = Llama(model_path=str(path), n_ctx=128, logits_all=True, verbose=False, n_threads=2)
    llama.eval(tokens)
    return np.array(llama.scores[: len(tokens)])


def test_weights_read_and_written_back_compute_what_llama_cpp_computes(tiny_gguf, tmp_path, monkeypatch):
    import torch

    from incident_lens.llm import gguf_weights as gw

    weights = gw.read_llama_gguf(tiny_gguf)
    model = gw.torch_model(weights)
    # Sharp attention (random 0.02 weights attend almost uniformly, which hides a wrong rotary layout).
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.q_proj.weight.mul_(40)
            layer.self_attn.k_proj.weight.mul_(40)
    tokens = list(range(5, 45))
    with torch.no_grad():
        expected = model(torch.tensor([tokens])).logits[0].numpy()
    right = gw.write_llama_gguf(weights, model.state_dict(), tmp_path / "right.gguf", "f16", {"test": True})
    got = _logits(right, tokens)
    scale = np.abs(expected).max()
    assert np.abs(got - expected).max() < 0.02 * scale
    # Written without llama.cpp's q/k permutation, the same weights compute something else.
    monkeypatch.setattr(gw, "permute", lambda w, n_head: w)
    wrong = gw.write_llama_gguf(weights, model.state_dict(), tmp_path / "wrong.gguf", "f16")
    assert np.abs(_logits(wrong, tokens) - expected).max() > 0.1 * scale
    # Read back, the file gives the trained tensors (q/k in torch order again) within f16 rounding.
    again = gw.read_llama_gguf(right)
    q = "model.layers.0.self_attn.q_proj.weight"
    np.testing.assert_allclose(again.tensors[q], model.state_dict()[q].numpy(), rtol=1e-2, atol=1e-3)


def test_training_prompt_is_the_prompt_the_program_sends(tiny_gguf, topic, home, monkeypatch):
    import dspy

    from incident_lens.llm import build_lm, engine_of
    from incident_lens.llm.llama_engine import LlamaCppEngine
    from incident_lens.pipelines.finetuning import student_program
    from incident_lens.pipelines.training_data import render_example

    task, _gold = topic
    lm = build_lm(_settings(home, tiny_gguf))
    sent = []
    original = LlamaCppEngine.render_messages

    def spy(self, messages):
        tokens, stops = original(self, messages)
        sent.append(tokens)
        return tokens, stops

    monkeypatch.setattr(LlamaCppEngine, "render_messages", spy)
    for instructions in ("brief", "program"):
        program = student_program(task, instructions)
        with dspy.context(lm=lm):
            program(report="slipped and fell in the bay")
        example = render_example(engine_of(lm), program, task, "slipped and fell in the bay", "fall")
        assert list(example.tokens[: example.n_prompt]) == sent[-2]  # [-1] is render_example's own call
        answer = engine_of(lm).loaded.llama.detokenize(list(example.tokens[example.n_prompt:-1])).decode()
        assert json.loads(answer) == {"evidence": [], "label": "fall"}
    assert len(sent[0]) < len(sent[2])  # brief instructions: no label definitions


@pytest.mark.slow
def test_finetune_save_load_label_evaluate_summarise(tiny_gguf, topic, home, tmp_path):
    task, gold = topic
    task_file = tmp_path / "topic.toml"
    out = tmp_path / "opt" / "topic-ft.json"
    runner = CliRunner()
    result = runner.invoke(app, ["optimise", "--task", str(task_file), "--gold", str(gold), "--optimizer", "finetune",
                                 "--model", str(tiny_gguf), "--epochs", "1", "--batch-size", "4", "--lr", "1e-3",
                                 "--seed", "3", "--dev-limit", "2", "--threads", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    gguf = out.with_suffix(".gguf")
    meta = json.loads(out.with_name("topic-ft.meta.json").read_text())
    assert meta["optimizer"] == "finetune" and meta["trained_on_reports"] is True
    assert meta["training"]["steps"] == meta["training"]["total_steps"] == 4  # 14 train rows, batch 4
    assert meta["training"]["last_loss"] < meta["training"]["first_loss"]
    assert meta["dev_before"]["n"] == meta["dev_after"]["n"] == 2
    assert meta["base_model"]["sha256"] != meta["model"]["sha256"] == meta["finetuned_model"]["sha256"]
    from gguf import GGUFReader

    recorded = json.loads(GGUFReader(gguf).fields["incident_lens.finetune"].contents())
    assert recorded["base_model"]["sha256"] == meta["base_model"]["sha256"]
    assert recorded["hyperparameters"]["lr"] == 1e-3 and recorded["hyperparameters"]["seed"] == 3
    assert recorded["dev_after"] == meta["dev_after"] and recorded["trained_on_reports"] is True
    assert recorded["data"]["train_ids_sha256"] == meta["gold"]["train_ids_sha256"]
    # No --model: the program's own GGUF is used (the bundled default is switched off in tests).
    labels = tmp_path / "labels.csv"
    result = runner.invoke(app, ["label", str(gold), "--task", str(task_file), "--program", str(out), "--out", str(labels),
                                 "--limit", "3"])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(labels)
    assert len(rows) == 3 and set(rows["label"].dropna()) <= {"fall", "medication", "device"}
    manifest = json.loads(next((home / "runs").glob("*-label/manifest.json")).read_text())
    assert manifest["model"]["sha256"] == meta["model"]["sha256"]
    # A labels file written by `label` teaches (pseudo-labels): it is a gold set joined to the reports it labelled.
    all_labels = tmp_path / "all-labels.csv"
    result = runner.invoke(app, ["label", str(gold), "--task", str(task_file), "--program", str(out), "--out", str(all_labels),
                                 "--limit", "16"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["optimise", "--task", str(task_file), "--gold", str(all_labels), "--optimizer", "finetune",
                                 "--epochs", "1", "--batch-size", "16", "--dev-limit", "1", "--out", str(tmp_path / "p.json")])
    assert result.exit_code == 2 and "--reports" in result.output
    result = runner.invoke(app, ["optimise", "--task", str(task_file), "--gold", str(all_labels), "--reports", str(gold),
                                 "--optimizer", "finetune", "--model", str(tiny_gguf), "--epochs", "1", "--batch-size", "16",
                                 "--dev-limit", "1", "--out", str(tmp_path / "p.json")])
    assert result.exit_code == 0, result.output
    pseudo = json.loads((tmp_path / "p.meta.json").read_text())["data"]["pseudo_labels"]
    assert pseudo["labels_file"] == "all-labels.csv" and pseudo["rows"] + pseudo["left_out_not_ok"] == 16
    assert not list(tmp_path.glob("*.tmp"))
    result = runner.invoke(app, ["evaluate", "--task", str(task_file), "--gold", str(gold), "--method", str(out),
                                 "--format", "json", "--allow-overlap"])
    assert result.exit_code == 0, result.output
    assert "program:topic-ft" in json.loads(result.output[result.output.index("{"):])["methods"]
    summaries = tmp_path / "s.jsonl"
    result = runner.invoke(app, ["summarise", str(gold), "--program", str(out), "--out", str(summaries), "--limit", "1",
                                 "--text-col", "description"])
    assert result.exit_code == 0, result.output
    assert len(summaries.read_text().splitlines()) == 1


class Killed(Exception):
    pass


@pytest.mark.slow
def test_resume_after_kill_continues_and_matches_an_uninterrupted_run(tiny_gguf, topic, home, tmp_path):
    from incident_lens.llm.gguf_weights import read_llama_gguf
    from incident_lens.pipelines.finetuning import finetune

    task, gold = topic
    settings = _settings(home, tiny_gguf)
    common = dict(epochs=2, lr=1e-3, batch_size=4, seed=5, score_dev=False, checkpoint_every=2)
    whole = finetune(task, gold, settings, out=tmp_path / "whole.json", **common)
    assert whole.meta["training"]["resumed_from_step"] == 0 and whole.meta["training"]["steps"] == 8

    def kill(step):
        if step == 5:
            raise Killed()

    with pytest.raises(Killed):
        finetune(task, gold, settings, out=tmp_path / "resumed.json", after_step=kill, **common)
    assert not (tmp_path / "resumed.gguf").exists()
    resumed = finetune(task, gold, settings, out=tmp_path / "resumed.json", **common)
    assert resumed.meta["training"]["resumed_from_step"] == 4  # the last checkpoint before the kill
    assert resumed.meta["training"]["steps"] == 8
    a, b = read_llama_gguf(whole.gguf_path).tensors, read_llama_gguf(resumed.gguf_path).tensors
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert not (home / "finetune").exists() or not any((home / "finetune").iterdir())  # checkpoints cleared when done


def test_max_minutes_stops_cleanly_and_keeps_the_checkpoint(tiny_gguf, topic, home, tmp_path):
    from incident_lens.pipelines.finetuning import finetune

    task, gold = topic
    result = finetune(task, gold, _settings(home, tiny_gguf), out=tmp_path / "t.json", epochs=3, batch_size=4,
                      max_minutes=1e-6, score_dev=False)
    assert result.meta["training"]["stopped_early"] and result.meta["training"]["steps"] == 1
    assert result.gguf_path.is_file() and Path(result.meta["training"]["checkpoint"]).is_file()
    assert any("--max-minutes" in w for w in result.warnings)


def _multi_gold(path: Path) -> Path:
    rng = random.Random(7)
    rows = []
    for i in range(14):
        staffing, equipment = rng.random() < 0.5, rng.random() < 0.5
        words = (["only one nurse on shift"] if staffing else []) + (["the pump broke"] if equipment else []) or ["nothing of note"]
        rows.append({"id": f"m{i}", "text": " and ".join(words) + f" on day {i}",
                     "factors": ";".join(n for n, on in (("staffing", staffing), ("equipment", equipment)) if on) or "staffing"})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("kind", ["single", "multi", "findings"])
def test_every_task_kind_trains_a_step(kind, tiny_gguf, topic, home, tmp_path):
    from incident_lens.pipelines.finetuning import finetune

    if kind == "single":
        task, gold = topic
    elif kind == "multi":
        (tmp_path / "factors.toml").write_text(MULTI_TASK, encoding="utf-8")
        task, gold = load_task_file(tmp_path / "factors.toml"), _multi_gold(tmp_path / "multi.csv")
    else:
        task = find_task("cxr-findings", Settings(home=home).workspace.ensure())
        gold = tmp_path / "cxr.csv"
        pd.read_csv(REPO / "data" / "gold" / "cxr-findings.csv").head(16).to_csv(gold, index=False)
    result = finetune(task, gold, _settings(home, tiny_gguf), out=tmp_path / f"{kind}.json", epochs=1, batch_size=16,
                      lr=1e-3, dev_limit=1)
    assert result.meta["training"]["steps"] >= 1 and result.meta["task"]["kind"] == kind
    assert result.meta["dev_after"]["n"] == 1


def test_bad_inputs_are_one_line_errors_before_training(tiny_gguf, topic, home, tmp_path, monkeypatch):
    from gguf import GGUFWriter

    from incident_lens.pipelines import finetuning

    task, _gold = topic
    settings = _settings(home, tiny_gguf)
    few = _topic_gold(tmp_path / "few.csv", per_topic=3)
    with pytest.raises(UserError, match="train row"):
        finetuning.finetune(task, few, settings, out=tmp_path / "a.json")
    other = tmp_path / "gemma.gguf"
    writer = GGUFWriter(other, "gemma")
    writer.add_context_length(128)
    writer.add_tensor("token_embd.weight", np.zeros((8, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    gold = _topic_gold(tmp_path / "gold2.csv")
    with pytest.raises(UserError, match="architecture 'gemma'"):
        finetuning.finetune(task, gold, _settings(home, other), out=tmp_path / "b.json")
    with pytest.raises(UserError, match="a .json file"):
        finetuning.finetune(task, gold, settings, out=tmp_path / "c.gguf")
    monkeypatch.setattr(finetuning.shutil, "disk_usage", lambda _p: type("U", (), {"free": 10_000})())
    with pytest.raises(UserError, match="GB free"):
        finetuning.finetune(task, gold, settings, out=tmp_path / "d.json")
    assert not list(tmp_path.glob("*.gguf.part")) and not (tmp_path / "d.json").exists()
    result = CliRunner().invoke(app, ["optimise", "--task", str(tmp_path / "topic.toml"), "--gold", str(few),
                                      "--optimizer", "finetune", "--model", str(tiny_gguf), "--out", str(tmp_path / "e.json")])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in result.output
