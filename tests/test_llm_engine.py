"""The in-process llama.cpp engine on a real (tiny, random-weight) GGUF written by project code."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import dspy
import pytest
from dspy.lm15 import Config, Message, Request

from incident_lens.config import Settings
from incident_lens.errors import UserError
from incident_lens.hashing import file_sha256
from incident_lens.llm import LlamaCppEngine, build_lm, overflow_tokens
from incident_lens.llm.llama_engine import llama_response_format

LABELS = ["fall", "medication", "pressure ulcer"]
SCHEMA = {
    "type": "object",
    "properties": {
        "evidence": {"type": "array", "items": {"type": "string", "maxLength": 60}, "maxItems": 2},
        "label": {"type": "string", "enum": LABELS},
    },
    "required": ["evidence", "label"],
    "additionalProperties": False,
}
REPORTS = [
    "Patient found on the floor beside the bed, unwitnessed fall.",
    "Enoxaparin dose omitted on the evening drug round.",
    "Grade 2 pressure ulcer found on the sacrum at handover.",
    "Wrong patient label on blood sample, sample rejected by lab.",
]


def request(model: str, text: str, schema: dict | None = SCHEMA, max_tokens: int = 200) -> Request:
    fmt = {"type": "json_schema", "schema": schema, "name": "out"} if schema else None
    return Request(model=model, system="Label the incident.", messages=(Message.user(text),),
                   config=Config(max_tokens=max_tokens, temperature=0.0, response_format=fmt))


@pytest.fixture(scope="module")
def engine(tiny_gguf) -> LlamaCppEngine:
    return LlamaCppEngine(tiny_gguf, n_ctx=2048, n_threads=1)


def test_written_gguf_is_a_llama_chat_model_with_a_working_tokenizer(engine, tiny_gguf):
    info = engine.info
    assert info.architecture == "llama" and info.has_chat_template
    llama = engine.loaded.llama
    text = "Patient fell at 03:00; NEWS2 was 5."
    assert llama.detokenize(llama.tokenize(text.encode(), add_bos=False)).decode() == text
    # Words from the demo data are whole tokens, not bytes.
    words = "The patient was found on the floor beside the bed and the family was informed"
    assert engine.count_tokens(words) < len(words) / 3


def test_json_schema_is_passed_to_llama_cpp_in_the_form_it_honours():
    assert llama_response_format({"type": "json_schema", "schema": SCHEMA}) == {"type": "json_object", "schema": SCHEMA}
    assert llama_response_format({"type": "json_object"}) == {"type": "json_object"}
    assert llama_response_format(None) is None


def test_grammar_forces_schema_valid_json_from_a_random_model(engine):
    for text in REPORTS:
        response = engine.complete(request(engine.model_string, text))
        answer = json.loads(response.text)  # strict JSON: no raw control characters in strings
        assert set(answer) == {"evidence", "label"}
        assert answer["label"] in LABELS
        assert len(answer["evidence"]) <= 2 and all(len(q) <= 60 for q in answer["evidence"])
        assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0


def test_without_a_schema_the_same_model_does_not_produce_the_schema(engine):
    # The control for the test above: the random model alone does not write valid labelled JSON.
    valid = 0
    for text in REPORTS:
        out = engine.complete(request(engine.model_string, text, schema=None, max_tokens=40)).text
        try:
            valid += json.loads(out).get("label") in LABELS
        except (json.JSONDecodeError, AttributeError):
            pass
    assert valid == 0


def test_shared_prompt_prefix_is_reused_from_the_kv_cache(engine):
    engine.complete(request(engine.model_string, REPORTS[0]))
    engine.complete(request(engine.model_string, REPORTS[1]))
    call = engine.last_call
    assert 0 < call["reused_tokens"] < call["prompt_tokens"]
    response = engine.complete(request(engine.model_string, REPORTS[1]))
    assert response.usage.cache_read_tokens == response.usage.input_tokens - 1


def test_model_string_carries_the_gguf_sha256(engine, tiny_gguf, tmp_path):
    from incident_lens.llm.gguf_writer import write_test_gguf

    assert engine.model_string.endswith(file_sha256(tiny_gguf))
    other = LlamaCppEngine(write_test_gguf(tmp_path / "tiny.gguf", "tiny", seed=1), n_ctx=512, n_threads=1)
    # Same file name, different weights: DSPy's cache (keyed by the model string) keeps them apart.
    assert other.model_string != engine.model_string


def test_concurrent_calls_are_serialised_and_match_sequential_answers(engine):
    sequential = [engine.complete(request(engine.model_string, t)).text for t in REPORTS]
    results: dict[int, str] = {}

    def work(i: int) -> None:
        results[i] = engine.complete(request(engine.model_string, REPORTS[i])).text

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(REPORTS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i] for i in range(len(REPORTS))] == sequential


def test_prompt_that_leaves_no_room_for_the_answer_is_refused_with_the_overflow(tiny_gguf):
    small = LlamaCppEngine(tiny_gguf, n_ctx=256, n_threads=1)
    from dspy import lm15

    with pytest.raises(lm15.ContextLengthError) as caught:
        small.complete(request(small.model_string, "fall " * 200, max_tokens=200))
    excess = overflow_tokens(str(caught.value))
    assert excess is not None and excess > 0


def test_build_lm_uses_the_workspace_cache_and_answers_through_dspy(tiny_gguf, tmp_path):
    settings = Settings(home=tmp_path / "ws", model_path=tiny_gguf, n_ctx=2048, threads=1)
    lm = build_lm(settings)
    assert lm.model.endswith(file_sha256(tiny_gguf)) and lm.num_retries == 0
    out = lm("hello", max_tokens=8)
    assert isinstance(out[0], str)
    assert Path(dspy.cache.disk_cache.directory) == settings.workspace.cache_dir / "dspy"
    assert any((settings.workspace.cache_dir / "dspy").iterdir())


@pytest.mark.parametrize("damage", ["missing", "not_gguf", "truncated"])
def test_bad_model_file_fails_before_any_work_with_one_line(tiny_gguf, tmp_path, damage):
    path = tmp_path / "model.gguf"
    if damage == "not_gguf":
        path.write_text("this is not a model\n")
    elif damage == "truncated":
        path.write_bytes(tiny_gguf.read_bytes()[: tiny_gguf.stat().st_size // 2])
    settings = Settings(home=tmp_path / "ws", model_path=path, threads=1)
    with pytest.raises(UserError) as caught:
        build_lm(settings)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message


def test_no_model_given_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="--model"):
        build_lm(Settings(home=tmp_path / "ws"))


def test_dev_make_gguf_writes_a_model_llama_cpp_loads(tmp_path):
    from typer.testing import CliRunner

    from incident_lens.cli import app
    from incident_lens.llm.gguf_info import inspect_gguf

    path = tmp_path / "made.gguf"
    result = CliRunner().invoke(app, ["--home", str(tmp_path / "ws"), "dev", "make-gguf", str(path), "--size", "tiny", "--seed", "3"])
    assert result.exit_code == 0, result.output
    info = inspect_gguf(path)
    assert info.architecture == "llama" and info.has_chat_template
    engine = LlamaCppEngine(path, n_ctx=1024, n_threads=1)
    answer = json.loads(engine.complete(request(engine.model_string, REPORTS[0])).text)
    assert answer["label"] in LABELS


def test_unknown_size_is_a_user_error(tmp_path):
    from incident_lens.llm.gguf_writer import write_test_gguf

    with pytest.raises(UserError, match="tiny"):
        write_test_gguf(tmp_path / "x.gguf", size="huge")
