"""Compile / test leakage: a compiled program that quotes test rows, or was compiled on this gold file
split another way, is refused before anything runs; `--allow-overlap` scores it under a loud warning."""

from __future__ import annotations

import json
import random
from pathlib import Path

import dspy
import pandas as pd
import pytest
from typer.testing import CliRunner

from incident_lens.cli import app
from incident_lens.config import Settings
from incident_lens.errors import UserError
from incident_lens.inputs.gold import load_sets
from incident_lens.inputs.task_files import load_task_file
from incident_lens.pipelines.evaluation import evaluate
from incident_lens.pipelines.optimising import optimise
from topic_task import TASK

PHRASES = {"fall": ["found on the floor", "slipped and fell"], "medication": ["insulin dose given twice", "dose omitted"],
           "device": ["pump alarm failed", "battery flat"]}


def _write_gold(path: Path, prefix: str, seed: int, per_topic: int = 8) -> Path:
    rng = random.Random(seed)
    rows = [{"id": f"{prefix}{topic[:3]}{i}", "description": f"{rng.choice(phrases)} in bay {prefix}-{topic[:3]}-{i}", "topic": topic}
            for topic, phrases in PHRASES.items() for i in range(per_topic)]
    rng.shuffle(rows)
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


class FirstLabelEngine:
    """A scripted model (a DSPy engine) that fills any output schema with its first allowed values."""

    supports_response_schema = True
    supported_params = {"response_format", "max_tokens", "temperature", "top_p", "seed", "stop"}

    def __init__(self):
        self.calls = 0

    def _value(self, schema: dict, defs: dict):
        if "$ref" in schema:
            return self._value(defs[schema["$ref"].split("/")[-1]], defs)
        if "enum" in schema:
            return schema["enum"][0]
        kind = schema.get("type")
        if kind == "array":
            return []
        if kind == "object":
            return {key: self._value(sub, defs) for key, sub in schema.get("properties", {}).items()}
        if kind in ("integer", "number"):
            return 1
        if kind == "boolean":
            return True
        return "Read the report."

    def complete(self, request):
        from dspy.lm15 import Message, Response, TextPart, Usage

        self.calls += 1
        schema = (request.config.response_format or {}).get("schema") or {"type": "object", "properties": {}}
        answer = self._value(schema, schema.get("$defs", {}))
        return Response(id=None, model=request.model, message=Message.assistant([TextPart(json.dumps(answer))]),
                        finish_reason="stop", usage=Usage(input_tokens=3, output_tokens=2))


def scripted_lm():
    return dspy.LM("scripted/first-label", engine=FirstLabelEngine(), cache=False)


@pytest.fixture
def compiled(home, tmp_path):
    """A program compiled (labeled few-shot: demos from train, no model) on gold.csv's recorded split."""
    task_path = tmp_path / "topic.toml"
    task_path.write_text(TASK, encoding="utf-8")
    task = load_task_file(task_path)
    gold = _write_gold(tmp_path / "gold.csv", "g", seed=1)
    settings = Settings(home=home)
    out = tmp_path / "optimized" / "topic.json"
    optimise(task, gold, settings, "labeled", "zero-shot", out, lm=scripted_lm(), score_dev=False)
    return task, task_path, gold, settings, out


def _quote_a_test_row(task, gold: Path, settings, program: Path) -> str:
    """Make the program's first demo a test row of `gold` (spaced and cased differently); returns that row's text."""
    _train, _dev, test, _split = load_sets(task, gold, settings)
    state = json.loads(program.read_text())
    demos = next(value["demos"] for value in state.values() if isinstance(value, dict) and value.get("demos"))
    demos[0]["report"] = "  " + test.texts[0].upper().replace(" ", "   ") + "\n"
    program.write_text(json.dumps(state))
    return test.texts[0]


def test_a_program_that_quotes_a_test_row_is_refused_before_anything_runs(compiled):
    task, _task_path, gold, settings, out = compiled
    _quote_a_test_row(task, gold, settings, out)
    lm = scripted_lm()
    with pytest.raises(UserError) as refused:
        evaluate(task, gold, ["tfidf-lr", str(out)], settings, lm=lm)
    message = str(refused.value)
    assert "1 of the 4 report(s) it quotes (demos or knn pool) are test rows of gold.csv" in message
    assert "--allow-overlap" in message and "\n" not in message
    assert lm.engine.calls == 0


def test_a_program_compiled_on_this_gold_file_split_another_way_is_refused(compiled, tmp_path):
    task, _task_path, gold, settings, out = compiled
    with pytest.raises(UserError, match=r"compiled on the train split \(seed 13, topic--gold.split.json\) of this same "
                                        r"gold file, scored here on split seed 5 \(other.split.json\)"):
        evaluate(task, gold, [str(out)], settings, split_path=tmp_path / "other.split.json", split_seed=5, lm=scripted_lm())
    # With a separate train file the whole gold file is the test set: its train rows are in it.
    train = _write_gold(tmp_path / "train.csv", "t", seed=2)
    with pytest.raises(UserError, match="scored here on all its rows"):
        evaluate(task, gold, [str(out)], settings, train_path=train, lm=scripted_lm())


def test_the_split_it_was_compiled_on_and_another_gold_file_pass(compiled, tmp_path):
    task, _task_path, gold, settings, out = compiled
    result = evaluate(task, gold, [str(out)], settings, lm=scripted_lm())
    program = result.methods[0]
    assert program.name == "program:topic" and "overlap" not in program.details and result.warnings == []
    n = len(result.test)
    assert program.details["lm_tokens"] == {"prompt_tokens": 3 * n, "completion_tokens": 2 * n}

    # The same program quoting a row of gold.csv is fine on reports it never saw.
    _quote_a_test_row(task, gold, settings, out)
    other = _write_gold(tmp_path / "other.csv", "o", seed=3)
    result = evaluate(task, other, [str(out)], settings, lm=scripted_lm())
    assert "overlap" not in result.methods[0].details and result.methods[0].scores["n"] == len(result.test)


def test_allow_overlap_scores_it_with_a_loud_warning_in_the_report_and_manifest(compiled, home, tmp_path, monkeypatch):
    import incident_lens.llm

    task, task_path, gold, settings, out = compiled
    _quote_a_test_row(task, gold, settings, out)
    monkeypatch.setattr(incident_lens.llm, "build_lm", lambda *args, **kwargs: scripted_lm())
    command = ["evaluate", "--task", str(task_path), "--gold", str(gold), "--method", str(out), "--report", str(tmp_path / "r")]

    refused = CliRunner().invoke(app, command)
    assert refused.exit_code == 2 and "1 of the 4 report(s) it quotes" in refused.output
    assert "--allow-overlap" in refused.output and "Traceback" not in refused.output

    allowed = CliRunner().invoke(app, command + ["--allow-overlap"])
    assert allowed.exit_code == 0, allowed.output
    assert "scores optimistic, compile and test overlap" in allowed.output
    report = (tmp_path / "r" / "report.md").read_text()
    assert "**Scores of program:topic are optimistic: its compiled program overlaps the test rows**" in report
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert "1 of the 4 report(s)" in metrics["methods"]["program:topic"]["details"]["overlap"][0]
    assert any("compile and test overlap" in w for w in metrics["warnings"])
    manifest_path = max((home / "runs").glob("*-evaluate/manifest.json"))
    manifest = json.loads(manifest_path.read_text())
    assert manifest["status"] == "ok" and "1 of the 4 report(s)" in manifest["overlap"]["program:topic"][0]
    assert "bay g-" not in manifest_path.read_text()  # counts and paths, never report text
