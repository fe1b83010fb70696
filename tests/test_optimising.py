"""Optimisers: compile, save, load round trips (scripted LM), the meta file, load-time checks, and the real tiny GGUF."""

from __future__ import annotations

import json
import random
from pathlib import Path

import dspy
import pandas as pd
import pytest
from typer.testing import CliRunner

from incident_lens.pipelines.baselines import MemoEmbedder
from incident_lens.cli import app
from incident_lens.config import Settings
from incident_lens.errors import UserError
from incident_lens.hashing import file_sha256
from incident_lens.pipelines.compiled import load_compiled, meta_path_for
from incident_lens.pipelines.optimising import OPTIMIZERS, optimise
from programs import NearestDemos
from incident_lens.inputs.task_files import load_task_file
from topic_task import TASK

PHRASES = {"fall": ["found on the floor", "slipped and fell"], "medication": ["insulin dose given twice", "dose omitted"],
           "device": ["pump alarm failed", "battery flat"]}


def _write_gold(path: Path, per_topic: int) -> Path:
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
    return load_task_file(task_path), _write_gold(tmp_path / "gold.csv", 6)


class GoldFollowingEngine:
    """A scripted model (a DSPy engine): fills any output schema; gives a report's gold label only when
    demos are in the prompt, so an optimizer that adds demos visibly helps on dev."""

    supports_response_schema = True
    supported_params = {"response_format", "max_tokens", "temperature", "top_p", "seed", "stop"}

    def __init__(self, gold: dict[str, str]):
        self.gold = gold
        self.calls = 0

    def _value(self, schema: dict, defs: dict, name: str, last: str, with_demos: bool):
        if "$ref" in schema:
            return self._value(defs[schema["$ref"].split("/")[-1]], defs, name, last, with_demos)
        if "enum" in schema:
            known = next((label for text, label in self.gold.items() if text in last), None)
            return known if with_demos and known in schema["enum"] else schema["enum"][-1]
        kind = schema.get("type")
        if kind == "array":
            return []
        if kind == "object":
            return {key: self._value(sub, defs, key, last, with_demos) for key, sub in schema.get("properties", {}).items()}
        if kind in ("integer", "number"):
            return 1
        if kind == "boolean":
            return True
        return "Label the report by its definitions."

    def complete(self, request):
        from dspy.lm15 import Message, Response, TextPart, Usage

        self.calls += 1
        schema = (request.config.response_format or {}).get("schema") or {"type": "object", "properties": {}}
        last = request.messages[-1].text or ""
        answer = self._value(schema, schema.get("$defs", {}), "", last, len(request.messages) > 1)
        return Response(id=None, model=request.model, message=Message.assistant([TextPart(json.dumps(answer))]),
                        finish_reason="stop", usage=Usage(input_tokens=1, output_tokens=1))


def scripted_lm(gold_path: Path):
    frame = pd.read_csv(gold_path, dtype=str)
    return dspy.LM("scripted/gold-follower", engine=GoldFollowingEngine(dict(zip(frame["description"], frame["topic"]))), cache=False)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_compile_save_load_round_trip(optimizer, topic, tmp_path, embedder):
    task, gold = topic
    settings = Settings(home=tmp_path / "ws")
    out = tmp_path / "optimized" / "topic.json"
    memo = MemoEmbedder(embedder)
    result = optimise(task, gold, settings, optimizer, "zero-shot", out, lm=scripted_lm(gold), embedder=memo)
    assert out.is_file() and meta_path_for(out) == tmp_path / "optimized" / "topic.meta.json"

    loaded, meta, warnings = load_compiled(out, task, embedder=memo)
    assert meta == json.loads(meta_path_for(out).read_text()) and meta["optimizer"] == optimizer
    if optimizer == "knn":
        assert isinstance(loaded, NearestDemos) and loaded.pool_state() == result.program.pool_state()
        assert loaded.program.dump_state() == result.program.program.dump_state()
        assert len(loaded.pool) == meta["gold"]["split_counts"]["train"]
    else:
        assert loaded.dump_state() == result.program.dump_state()
        assert loaded.label.demos, "every optimizer here should have found demos that help"
    # The scripted model is right only with demos: compiling must show on dev.
    assert meta["dev_before"]["metric"] < meta["dev_after"]["metric"] == 1.0
    assert meta["contains_source_text"] is True
    assert warnings == []


def test_meta_file_says_what_built_the_program(topic, tmp_path):
    task, gold = topic
    settings = Settings(home=tmp_path / "ws", seed=7)
    out = tmp_path / "topic.json"
    optimise(task, gold, settings, "bootstrap", "zero-shot", out, lm=scripted_lm(gold))
    meta = json.loads((tmp_path / "topic.meta.json").read_text())
    assert meta["task"] == {"name": "topic", "kind": "single", "file": "topic.toml", "sha256": task.sha256,
                            "labels": ["fall", "medication", "device"]}
    assert meta["program"] == "zero-shot" and meta["optimizer"] == "bootstrap"
    assert meta["parameters"] == {"max_bootstrapped_demos": 2, "max_labeled_demos": 4, "max_rounds": 1}
    assert "exact match" in meta["metric"]
    assert set(meta["dev_before"]) == {"metric", "macro_f1", "accuracy", "n", "no_answer"}
    assert meta["gold"]["sha256"] == file_sha256(gold) and meta["gold"]["split_seed"] == 7
    assert sum(meta["gold"]["split_counts"].values()) == 18
    assert meta["model"] is None  # a scripted LM, no GGUF file
    assert meta["versions"]["dspy"] and meta["created_at"] and meta["lm_calls"] > 0
    # Demos quote the gold reports word for word.
    program = json.loads((tmp_path / "topic.json").read_text())
    assert any(d["report"] in gold.read_text() for d in program["label"]["demos"])


def test_rag_program_round_trip_with_its_retriever(topic, tmp_path, embedder):
    from incident_lens.pipelines.labelled_pool import TrainRetriever
    from incident_lens.inputs.gold import load_gold

    task, gold = topic
    out = tmp_path / "rag.json"
    memo = MemoEmbedder(embedder)
    result = optimise(task, gold, Settings(home=tmp_path / "ws"), "labeled", "rag", out, lm=scripted_lm(gold), embedder=memo)
    retriever = TrainRetriever(task, load_gold(gold, task), memo)
    try:
        loaded, meta, _ = load_compiled(out, task, retriever=retriever)
        assert meta["program"] == "rag" and loaded.dump_state() == result.program.dump_state()
        assert meta["rag_examples"]["reports"] == meta["dev_before"]["n"] + meta["dev_after"]["n"]
        assert meta["rag_examples"]["examples_per_report"] == 4 and meta["rag_examples"]["fewer_than_k"] == 0
        assert result.warnings == []
        assert "label_with_examples" in json.loads(out.read_text())
        with pytest.raises(UserError, match="needs labelled reports"):
            load_compiled(out, task)
    finally:
        retriever.close()


def test_loading_checks_task_labels_and_model(topic, tmp_path):
    task, gold = topic
    out = tmp_path / "topic.json"
    optimise(task, gold, Settings(home=tmp_path / "ws"), "labeled", "zero-shot", out)  # no model: no LM calls
    meta = json.loads(meta_path_for(out).read_text())
    assert meta["dev_before"] is None and meta["dev_note"] == "no model given: not scored"

    other = tmp_path / "other.toml"
    other.write_text(TASK.replace('name = "topic"', 'name = "harm"', 1))
    with pytest.raises(UserError, match="compiled for task 'topic', not 'harm'"):
        load_compiled(out, load_task_file(other))
    more = tmp_path / "more.toml"
    more.write_text(TASK + '[[labels]]\nname = "infection"\ndefinition = "An infection."\n')
    with pytest.raises(UserError, match="different label set.*not in the file: infection"):
        load_compiled(out, load_task_file(more))

    meta["model"] = {"file": "big.gguf", "sha256": "a" * 64}
    meta_path_for(out).write_text(json.dumps(meta))
    _, _, warnings = load_compiled(out, task, model_sha256="b" * 64)
    assert any("compiled with big.gguf" in w for w in warnings)


def test_unknown_optimizer_and_program_are_user_errors(topic, tmp_path):
    task, gold = topic
    with pytest.raises(UserError, match="--optimizer copro: unknown"):
        optimise(task, gold, Settings(home=tmp_path / "ws"), "copro", "zero-shot", tmp_path / "x.json")
    with pytest.raises(UserError, match="needs? .*--model|calls the model"):
        optimise(task, gold, Settings(home=tmp_path / "ws"), "bootstrap", "zero-shot", tmp_path / "x.json")


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["labeled", "bootstrap"])
def test_optimise_then_evaluate_with_the_tiny_gguf(optimizer, home, tmp_path, tiny_gguf):
    from incident_lens.llm import load_model

    task_path = tmp_path / "topic.toml"
    task_path.write_text(TASK, encoding="utf-8")
    gold = _write_gold(tmp_path / "gold.csv", 4)
    out = tmp_path / "optimized" / "topic.json"
    args = ["--home", str(home), "optimise", "--task", str(task_path), "--gold", str(gold), "--optimizer", optimizer,
            "--model", str(tiny_gguf), "--out", str(out), "--threads", "1"]
    runner = CliRunner()
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "dev before:" in first.output and "dev after:" in first.output
    meta = json.loads(meta_path_for(out).read_text())
    assert meta["model"]["file"] == "tiny.gguf" and meta["model"]["sha256"] == file_sha256(tiny_gguf)
    assert meta["lm_calls"] > 0 and meta["dev_after"]["n"] == meta["gold"]["split_counts"]["dev"]
    saved = out.read_text()

    # Re-running answers from DSPy's cache: llama.cpp evaluates no new prompt tokens.
    settings = Settings(home=home, model_path=tiny_gguf, threads=1)
    loaded = load_model(tiny_gguf, n_ctx=settings.n_ctx, n_threads=1, n_batch=settings.n_batch, seed=settings.seed,
                        cache_dir=home / "cache")
    evaluated = loaded.evaluated_prompt_tokens
    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    assert loaded.evaluated_prompt_tokens == evaluated
    assert out.read_text() == saved

    report = tmp_path / "report"
    llm_method = "zero-shot" if optimizer == "bootstrap" else "rag"
    result = runner.invoke(app, ["--home", str(home), "evaluate", "--task", str(task_path), "--gold", str(gold),
                                 "--method", str(out), "--method", llm_method, "--method", "tfidf-lr",
                                 "--model", str(tiny_gguf), "--threads", "1", "--report", str(report)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((report / "metrics.json").read_text())
    assert set(metrics["methods"]) == {"program:topic", llm_method, "tfidf-lr"}
    if llm_method == "rag":
        assert metrics["methods"]["rag"]["details"]["retrieves_from"] == f"{metrics['train']['rows']} train reports"
    assert metrics["methods"]["program:topic"]["details"]["optimizer"] == optimizer
    predictions = pd.read_csv(report / "predictions.csv", dtype=str, keep_default_na=False)
    assert set(predictions["program:topic"]) <= {"fall", "medication", "device", "(no answer)"}
    assert (report / "confusion-program_topic.png").is_file()


@pytest.mark.parametrize("name", ["incident-type", "harm", "cxr-findings"])
def test_shipped_programs_match_their_tasks_and_demo_gold(name):
    from incident_lens.inputs.task_files import find_task

    repo = Path(__file__).resolve().parents[1]
    task = find_task(name)
    program, meta, warnings = load_compiled(repo / "optimized" / f"{name}.json", task)
    assert warnings == []
    assert meta["optimizer"] == "labeled" and meta["contains_source_text"] is True
    assert meta["gold"]["sha256"] == file_sha256(repo / "data" / "gold" / f"{name}.csv"), "rebuild optimized/ (see its README)"
    assert len(program.label.demos) == meta["demos"] == 4


def test_compile_progress_reads_dspy_trials_and_best_scores():
    from incident_lens.pipelines.optimising import CompileWatch

    watch = CompileWatch(None, "random-search")
    with watch.capturing():
        print("Scores so far: [40.0, 55.0]")
        print("Best score so far: 55.0")
        import logging

        logging.getLogger("dspy.teleprompt.mipro_optimizer_v2").info("== Trial 3 / 10 - Minibatch ==")
    assert watch.best == 55.0 and watch.trial == (3, 10)
    assert "trial 3/10" in watch.line() and "best so far 55" in watch.line()


class FailingOnOneReport(GoldFollowingEngine):
    """Fails every call on the first report it sees, quoting it (as a parse error quotes a model's answer)."""

    failing = None

    def complete(self, request):
        last = request.messages[-1].text or ""
        self.failing = self.failing or next((text for text in self.gold if text in last), None)
        if self.failing and self.failing in last:
            raise RuntimeError(f"could not parse the answer for: {last}")
        return super().complete(request)


def test_dspy_errors_while_compiling_reach_stderr_without_report_text(topic, tmp_path, capfd):
    task, gold = topic
    frame = pd.read_csv(gold, dtype=str)
    engine = FailingOnOneReport(dict(zip(frame["description"], frame["topic"])))
    lm = dspy.LM("scripted/failing-once", engine=engine, cache=False, num_retries=0)
    optimise(task, gold, Settings(home=tmp_path / "ws"), "bootstrap", "zero-shot", tmp_path / "x.json", lm=lm,
             score_dev=False)
    err = capfd.readouterr().err
    assert engine.failing is not None
    assert "dspy.teleprompt.bootstrap: a call on one example failed" in err
    assert not any(text in err for text in frame["description"])


def test_compile_watch_passes_warnings_on_with_details_withheld(capfd, monkeypatch):
    import logging

    from incident_lens.log_privacy import LOG_TEXT_ENV
    from incident_lens.pipelines.optimising import CompileWatch

    monkeypatch.delenv(LOG_TEXT_ENV, raising=False)
    secret = "Mrs Zebedee-Quartermaine fell in bay 7"
    with CompileWatch(None).capturing():
        logging.getLogger("dspy.teleprompt.mipro_optimizer_v2").info("== Trial 1 / 4 - Minibatch ==")
        logging.getLogger("dspy.teleprompt.bootstrap_trace").warning(
            "Program raised on an example; capturing it as a failed prediction: %s: %s", "ValueError", secret)
        try:
            raise ValueError(f"bad answer for {secret}")
        except ValueError:
            logging.getLogger("dspy.teleprompt.utils").error("An exception occurred during evaluation", exc_info=True)
    err = capfd.readouterr().err
    assert "Trial 1 / 4" not in err  # progress stays on the progress line
    assert "Program raised on an example; capturing it as a failed prediction: [withheld]: [withheld]" in err
    assert "An exception occurred during evaluation (ValueError; details withheld)" in err
    assert "Zebedee" not in err and "Traceback" not in err


def test_train_retriever_counts_reports_given_fewer_than_k_examples(embedder):
    from types import SimpleNamespace

    from incident_lens.pipelines.labelled_pool import TrainRetriever

    task = SimpleNamespace(kind="single")
    gold = SimpleNamespace(ids=["a", "b"], texts=["slipped and fell", "insulin dose given twice"], labels=["fall", "medication"])
    retrieve = TrainRetriever(task, gold, embedder)
    assert len(retrieve("found on the floor", 4, "a")) == 1
    assert len(retrieve("found on the floor", 4, "a")) == 1  # a retry of the same report counts once
    assert len(retrieve("pump alarm failed", 1, "c")) == 1
    assert retrieve.tally.record() == {"k": 4, "reports": 2, "examples": 2, "examples_per_report": 1.0, "fewer_than_k": 1,
                                       "none": 0, "unusable_neighbours": {"unlabelled": 0, "label_not_in_task": 0}}
    assert retrieve.tally.warning("the train split") == "rag: 1 of 2 report(s) got fewer than 4 examples (0 got none)"
