"""Any chat model: the GGUF's own template (ChatML, Llama 3, Gemma, Phi-3, Mistral), `--chat-template`
for a GGUF without one, and the automatic context size. Models are tiny random-weight GGUFs written by
project code with those families' real templates and special tokens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import dspy
import pytest
from dspy.lm15 import Config, Message, Request
from typer.testing import CliRunner

from incident_lens.config import Settings, load_settings
from incident_lens.errors import UserError
from incident_lens.llm import LlamaCppEngine, build_lm, engine_of
from incident_lens.llm.chat_templates import BUILTIN, resolve_chat_template
from incident_lens.llm.gguf_writer import TEMPLATE_FAMILIES, write_test_gguf

FAMILIES = ("chatml", "llama3", "gemma", "phi3", "mistral")
LABELS = ["fall", "medication", "pressure ulcer"]
SCHEMA = {
    "type": "object",
    "properties": {"evidence": {"type": "array", "items": {"type": "string", "maxLength": 40}, "maxItems": 2},
                   "label": {"type": "string", "enum": LABELS}},
    "required": ["evidence", "label"],
    "additionalProperties": False,
}
SYSTEM = "Label the incident report with one category."
REPORT = "Patient found on the floor beside the bed at 03:00, unwitnessed fall, no injury."
# google/gemma-7b-it's published template: it raises on a system message (Gemma 1 and 2 have no system turn).
GEMMA1_TEMPLATE = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"
)


@pytest.fixture(scope="session")
def family_gguf(tmp_path_factory):
    """family -> a tiny GGUF carrying that family's template and special tokens (None: no template)."""
    folder = tmp_path_factory.mktemp("template-models")
    written: dict = {}

    def get(family: str | None) -> Path:
        if family not in written:
            written[family] = write_test_gguf(folder / f"{family or 'base'}.gguf", chat_template=family)
        return written[family]

    return get


def request(model: str) -> Request:
    return Request(model=model, system=SYSTEM, messages=(Message.user(REPORT),),
                   config=Config(max_tokens=120, temperature=0.0,
                                 response_format={"type": "json_schema", "schema": SCHEMA, "name": "out"}))


def rendered(engine: LlamaCppEngine, req: Request) -> tuple[list[int], str]:
    tokens, _stops = engine.render(req)
    return tokens, engine.loaded.llama.detokenize(tokens, special=True).decode("utf-8")


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_template_from_the_gguf_gives_schema_valid_answers(family, family_gguf):
    engine = LlamaCppEngine(family_gguf(family), n_ctx=2048, n_threads=1)
    assert engine.loaded.chat_template == "gguf"
    req = request(engine.model_string)
    tokens, prompt = rendered(engine, req)
    assert SYSTEM in prompt and REPORT in prompt
    # BOS exactly once, first, when the GGUF asks for it (written by the template, or added here for Phi-3).
    bos = engine.loaded.llama.token_bos()
    if TEMPLATE_FAMILIES[family].add_bos:
        assert tokens[0] == bos and tokens.count(bos) == 1
    answer = json.loads(engine.complete(req).text)
    assert answer["label"] in LABELS and len(answer["evidence"]) <= 2


def test_a_template_without_a_system_turn_gets_the_system_text_in_the_first_user_turn(family_gguf):
    mistral = LlamaCppEngine(family_gguf("mistral"), n_ctx=2048, n_threads=1)
    assert not mistral.loaded.system_role  # Mistral v0.2's template raises on a system message
    _, prompt = rendered(mistral, request(mistral.model_string))
    assert prompt.startswith("<s>[INST] " + SYSTEM) and prompt.count("[INST]") == 1
    gemma3 = LlamaCppEngine(family_gguf("gemma"), n_ctx=2048, n_threads=1)
    assert gemma3.loaded.system_role  # Gemma 3's own template folds it itself
    _, prompt = rendered(gemma3, request(gemma3.model_string))
    assert prompt.startswith(f"<bos><start_of_turn>user\n{SYSTEM}\n\n{REPORT}")


def test_a_template_file_overrides_the_gguf_template(family_gguf, tmp_path):
    template = tmp_path / "gemma-7b-it.jinja"
    template.write_text(GEMMA1_TEMPLATE, encoding="utf-8")
    engine = LlamaCppEngine(family_gguf("gemma"), n_ctx=2048, n_threads=1, chat_template=str(template))
    assert engine.loaded.chat_template == str(template) and not engine.loaded.system_role
    assert "+template:" in engine.model_string  # other prompts, other cache entries
    req = request(engine.model_string)
    _, prompt = rendered(engine, req)
    assert prompt.startswith(f"<bos><start_of_turn>user\n{SYSTEM}\n\n{REPORT}<end_of_turn>\n<start_of_turn>model\n")
    assert json.loads(engine.complete(req).text)["label"] in LABELS


def test_dspy_few_shot_conversation_renders_with_a_strict_alternating_template(family_gguf, tmp_path):
    settings = Settings(home=tmp_path / "ws", model_path=family_gguf("mistral"), n_ctx=2048, threads=1)
    lm = build_lm(settings, cache=False)

    class Label(dspy.Signature):
        """Label the incident report."""

        report: str = dspy.InputField()
        label: Literal["fall", "medication"] = dspy.OutputField()

    predict = dspy.Predict(Label)
    predict.demos = [dspy.Example(report="Enoxaparin dose omitted.", label="medication")]
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        prediction = predict(report=REPORT)
    assert prediction.label in ("fall", "medication")
    assert engine_of(lm).last_call["prompt_tokens"] > 0


def test_a_gguf_without_a_template_needs_chat_template_in_one_line(family_gguf, tmp_path):
    base = family_gguf(None)
    with pytest.raises(UserError) as caught:
        build_lm(Settings(home=tmp_path / "ws", model_path=base, threads=1))
    message = str(caught.value)
    assert "\n" not in message and "--chat-template NAME|FILE" in message and "chatml" in message

    lm = build_lm(Settings(home=tmp_path / "ws", model_path=base, chat_template="chatml", n_ctx=2048, threads=1))
    assert engine_of(lm).loaded.chat_template == "chatml"
    assert isinstance(lm("hello", max_tokens=4)[0], str)


def test_chat_template_option_on_the_command_line(family_gguf, tmp_path):
    from incident_lens.cli import app

    reports = tmp_path / "reports.csv"
    reports.write_text(f'id,description\nINC-1,"{REPORT}"\n', encoding="utf-8")
    base = ["--home", str(tmp_path / "ws"), "label", str(reports), "--task", "harm", "--text-col", "description",
            "--model", str(family_gguf(None)), "--n-ctx", "4096", "--threads", "1"]
    refused = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "a.csv")])
    assert refused.exit_code == 2 and "--chat-template" in refused.output
    done = CliRunner().invoke(app, [*base, "--chat-template", "chatml", "--out", str(tmp_path / "b.csv")])
    assert done.exit_code == 0, done.output
    assert "INC-1" in (tmp_path / "b.csv").read_text(encoding="utf-8")


def test_unknown_template_name_is_one_line_listing_the_names(tmp_path, family_gguf):
    with pytest.raises(UserError) as caught:
        resolve_chat_template("vicuna")
    message = str(caught.value)
    assert "\n" not in message and all(name in message for name in BUILTIN)
    with pytest.raises(UserError, match="chatml, gemma, llama3, mistral, phi3"):
        build_lm(Settings(home=tmp_path / "ws", model_path=family_gguf("chatml"), chat_template="vicuna", threads=1))


def test_a_broken_template_file_is_one_line(tmp_path, family_gguf):
    bad = tmp_path / "bad.jinja"
    bad.write_text("{% for message in messages %}{{ message['content'] }", encoding="utf-8")
    with pytest.raises(UserError) as caught:
        LlamaCppEngine(family_gguf("chatml"), n_ctx=1024, n_threads=1, chat_template=str(bad))
    assert "\n" not in str(caught.value) and "cannot render" in str(caught.value)


def test_chat_template_in_the_config_file_is_a_name_or_a_file_beside_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "incident-lens.toml").write_text('chat_template = "llama3"\n', encoding="utf-8")
    assert load_settings().chat_template == "llama3"
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "incident-lens.toml").write_text('chat_template = "mine.jinja"\n', encoding="utf-8")
    assert load_settings(config_path=tmp_path / "conf" / "incident-lens.toml").chat_template == str(tmp_path / "conf" / "mine.jinja")


def test_builtin_templates_render_their_family_format():
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    messages = [{"role": "user", "content": "Hi"}]
    expected = {
        "chatml": "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
        "llama3": "<B><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
        "gemma": "<B><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n",
        "phi3": "<|user|>\nHi<|end|>\n<|assistant|>\n",
        "mistral": "<B>[INST] Hi [/INST]",
    }
    for name, text in BUILTIN.items():
        formatter = Jinja2ChatFormatter(template=text, eos_token="<E>", bos_token="<B>")
        assert formatter(messages=messages).prompt == expected[name], name


# --- context size -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("trained", "expected"), [(2048, 2048), (32768, 8192)])
def test_without_n_ctx_the_context_follows_the_trained_context_up_to_8192(trained, expected, tmp_path):
    path = write_test_gguf(tmp_path / f"ctx{trained}.gguf", context_length=trained)
    settings = Settings(home=tmp_path / "ws", model_path=path, threads=1)
    assert settings.n_ctx is None
    engine = engine_of(build_lm(settings, cache=False))
    assert engine.loaded.n_ctx == expected and engine.describe()["n_ctx_source"] == "auto"
    chosen = engine_of(build_lm(Settings(home=tmp_path / "ws", model_path=path, n_ctx=1024, threads=1), cache=False))
    assert chosen.loaded.n_ctx == 1024  # a user's n_ctx wins
