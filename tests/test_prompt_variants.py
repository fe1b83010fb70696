"""Prompt styles: every layout builds, its answers parse (DummyLM and a random-weight GGUF under both grammars),
the chat adapter asks for its grammar only where the engine has one, and saved programs still load."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import dspy
import pytest
from dspy.lm15 import Message, Response, TextPart, Usage
from dspy.utils.dummies import DummyLM

from incident_lens.config import Settings
from incident_lens.inputs.task_files import Label, Task, find_task
from incident_lens.llm import build_lm
from incident_lens.llm.llama_engine import chat_fields_grammar
from programs import build_program, labelling_signature, load_program, prediction_labels
from programs.adapter import CHAT_FIELDS_FORMAT, chat_fields_format
from programs.labels import FINDING_STATUSES
from programs.prompt_style import DEFAULT_STYLES, ORIGINAL, PromptStyle, default_style, short_definitions, style_of_saved

REPO = Path(__file__).resolve().parents[1]
SINGLE = Task("kind", "single", "What kind of incident this is.", ("text",),
              (Label("Fall", "The patient fell or was found on the floor, with or without injury."),
               Label("Medication", "A drug error: wrong dose, wrong drug, omitted or late.")))
MULTI = Task("factors", "multi", "Contributing factors.", ("text",),
             (Label("Staffing", "too few staff"), Label("Equipment", "a device failed"), Label("Communication", "handover")))
FINDINGS = Task("cxr", "findings", "Chest x-ray findings.", ("findings",),
                (Label("Effusion", "pleural fluid"), Label("Pleural Thickening", "thick pleura"), Label("Edema", "fluid")))
TASKS = {"single": SINGLE, "multi": MULTI, "findings": FINDINGS}
REPORT = "Patient found on the floor beside the bed at 03:00.  No injury noted. Bed rails were down."
STYLES = [PromptStyle(label_first=a, rationale=b, definitions=c, adapter=d)
          for a, b, c, d in itertools.product([False, True], [True, False], ["full", "short"], ["json", "chat"])]
ANSWERS = {"single": "Fall", "multi": ["Staffing"],
           "findings": {"Effusion": "positive", "Pleural Thickening": "not_mentioned", "Edema": "negative"}}


def answer(kind: str, style: PromptStyle) -> dict:
    out = {"evidence": ["found on the floor beside the bed"], {"single": "label", "multi": "labels", "findings": "findings"}[kind]: ANSWERS[kind]}
    if style.rationale:
        out["rationale"] = "see [1]: a fall"
    return out


# --- layouts ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("style", STYLES, ids=lambda s: s.name())
@pytest.mark.parametrize("kind", list(TASKS))
def test_every_style_lays_out_its_fields_and_definitions(kind, style):
    task = TASKS[kind]
    signature = labelling_signature(task, style=style)
    answer_field = {"single": "label", "multi": "labels", "findings": "findings"}[kind]
    expected = ["evidence"] + (["rationale"] if style.rationale else [])
    expected = [answer_field, *expected] if style.label_first else [*expected, answer_field]
    assert list(signature.output_fields) == expected
    assert list(signature.input_fields) == ["report"]
    definitions = [label.definition for label in task.labels]
    shown = definitions if style.definitions == "full" else short_definitions(definitions)
    for label, definition in zip(task.labels, shown):
        assert f"- {label.name}: {definition}\n" in signature.instructions
    if style.definitions == "short":
        assert "- Fall: The patient fell or was found on the floor, with or without injury." not in labelling_signature(SINGLE, style=style).instructions
    with_examples = labelling_signature(task, with_examples=True, style=style)
    assert list(with_examples.input_fields) == ["examples", "report"] and list(with_examples.output_fields) == expected


def test_short_definitions_are_a_first_clause_without_the_shared_opening_cut_to_a_few_words():
    harm = find_task("harm")
    short = short_definitions([label.definition for label in harm.labels])
    assert short[0] == "where no harm came to the patient"  # "Any patient safety incident" is every definition's start
    assert all(1 <= len(s.split()) <= 10 for s in short)
    assert short_definitions(["Partial collapse of lung tissue: atelectasis of any kind."]) == ["Partial collapse of lung tissue"]
    assert short_definitions(["The patient died."]) == ["The patient died"]


def test_style_values_are_checked_and_named():
    with pytest.raises(ValueError, match="definitions"):
        PromptStyle(definitions="long")
    with pytest.raises(ValueError, match="adapter"):
        PromptStyle(adapter="xml")
    assert ORIGINAL.name() == "base"
    assert PromptStyle(label_first=True, rationale=False, adapter="chat").name() == "label-first+no-rationale+chat-adapter"


def test_every_task_kind_has_a_default_style_and_build_program_uses_it():
    assert set(DEFAULT_STYLES) == {"single", "multi", "findings"}
    for kind, task in TASKS.items():
        assert build_program(task).style == default_style(kind)
        assert list(build_program(task).label.signature.output_fields) == list(labelling_signature(task).output_fields)


# --- answers parse (DummyLM) -------------------------------------------------------------------------

@pytest.mark.parametrize("style", STYLES, ids=lambda s: s.name())
@pytest.mark.parametrize("kind", list(TASKS))
def test_answers_parse_in_every_style(kind, style):
    task = TASKS[kind]
    adapter = dspy.ChatAdapter() if style.adapter == "chat" else dspy.JSONAdapter()
    lm = DummyLM([answer(kind, style)], adapter=adapter)
    program = build_program(task, style=style)
    with dspy.context(lm=lm):
        prediction = program(report=REPORT)
    assert prediction_labels(task, prediction) == (sorted(ANSWERS[kind]) if kind == "multi" else
                                                  {k: v for k, v in ANSWERS[kind].items()} if kind == "findings" else ANSWERS[kind])
    assert prediction.evidence_verified
    # A bracketed rationale stays text; no rationale asked for is an empty one.
    assert prediction.rationale == ("see [1]: a fall" if style.rationale else "")
    prompt = lm.history[-1]["messages"]
    text = "\n".join(m["content"] for m in prompt)
    assert ("[[ ## completed ## ]]" in text) == (style.adapter == "chat")


def test_rag_labeller_takes_a_style():
    style = PromptStyle(label_first=True, rationale=False, adapter="chat")
    program = build_program(SINGLE, "rag", retriever=lambda t, k, e: [], style=style)
    lm = DummyLM([answer("single", style)], adapter=dspy.ChatAdapter())
    with dspy.context(lm=lm):
        prediction = program(report=REPORT, report_id="INC-1")
    assert prediction.label == "Fall" and list(program.label_with_examples.signature.output_fields) == ["label", "evidence"]


# --- the chat adapter's grammar --------------------------------------------------------------------

class RecordingEngine:
    """An engine that answers one fixed text and keeps the request (declares the chat grammar or not)."""

    supports_response_schema = True
    supported_params = {"response_format", "max_tokens", "temperature", "top_p", "seed", "stop"}

    def __init__(self, text: str, chat_fields: bool):
        self.text, self.supports_chat_fields, self.request = text, chat_fields, None

    def complete(self, request):
        self.request = request
        return Response(id="r", model=request.model, message=Message.assistant([TextPart(self.text)]),
                        finish_reason="stop", usage=Usage(input_tokens=1, output_tokens=1))

    def close(self):
        pass


@pytest.mark.parametrize("chat_fields", [True, False])
def test_chat_adapter_sends_its_schema_only_to_an_engine_that_has_the_grammar(chat_fields):
    text = '[[ ## label ## ]]\nFall\n\n[[ ## evidence ## ]]\n["found on the floor beside the bed"]\n\n[[ ## completed ## ]]'
    engine = RecordingEngine(text, chat_fields)
    lm = dspy.LM("recording/model", engine=engine, cache=False, num_retries=0)
    program = build_program(SINGLE, style=PromptStyle(label_first=True, rationale=False, adapter="chat"))
    with dspy.context(lm=lm):
        prediction = program(report=REPORT)
    assert prediction.label == "Fall" and prediction.evidence_verified
    fmt = engine.request.config.response_format
    if chat_fields:
        assert fmt["name"] == CHAT_FIELDS_FORMAT and list(fmt["schema"]["properties"]) == ["label", "evidence"]
    else:
        assert fmt is None


@pytest.mark.parametrize("kind", list(TASKS))
def test_chat_grammar_has_the_markers_in_order_and_compiles(kind):
    from llama_cpp.llama_grammar import LlamaGrammar

    style = PromptStyle(label_first=True, adapter="chat")
    schema = chat_fields_format(labelling_signature(TASKS[kind], style=style))["json_schema"]["schema"]
    grammar = chat_fields_grammar(schema)
    root = next(line for line in grammar.splitlines() if line.startswith("root ::="))
    answer_field = {"single": "label", "multi": "labels", "findings": "findings"}[kind]
    markers = [f"[[ ## {name} ## ]]" for name in (answer_field, "evidence", "rationale", "completed")]
    positions = [root.index(m) for m in markers]
    assert positions == sorted(positions)
    LlamaGrammar.from_string(grammar, verbose=False)


# --- a random-weight GGUF under both grammars --------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_lm(tiny_gguf, tmp_path_factory):
    settings = Settings(home=tmp_path_factory.mktemp("ws"), model_path=tiny_gguf, n_ctx=4096, threads=1)
    return build_lm(settings, cache=False)


@pytest.mark.parametrize("style", [PromptStyle(), PromptStyle(adapter="chat"),
                                   PromptStyle(label_first=True, rationale=False, definitions="short", adapter="chat"),
                                   PromptStyle(label_first=True, rationale=False, definitions="short")],
                         ids=lambda s: s.name())
@pytest.mark.parametrize("kind", list(TASKS))
def test_random_model_answers_parse_in_both_grammars(tiny_lm, kind, style):
    task = TASKS[kind]
    with dspy.context(lm=tiny_lm):
        for text in (REPORT, "Small left pleural effusion. No pulmonary edema."):
            prediction = build_program(task, style=style)(report=text)
            labels = prediction_labels(task, prediction)  # raises if outside the label set
            if kind == "findings":
                assert set(labels) == set(task.label_names) and set(labels.values()) <= set(FINDING_STATUSES)
            elif kind == "multi":
                assert 1 <= len(labels) <= len(task.labels)
            else:
                assert labels in task.label_names
            assert isinstance(prediction.evidence, list) and isinstance(prediction.rationale, str)
            if not style.rationale:
                assert prediction.rationale == ""


# --- saved programs --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["harm", "incident-type", "cxr-findings"])
def test_shipped_optimized_programs_load_with_their_own_field_layout(name, monkeypatch):
    task = find_task(name)
    path = REPO / "optimized" / f"{name}.json"
    saved = json.loads(path.read_text(encoding="utf-8"))
    # Whatever the default layout is, the file's own (evidence, rationale, answer) comes back.
    monkeypatch.setitem(DEFAULT_STYLES, task.kind, PromptStyle(label_first=True, rationale=False, adapter="chat"))
    program = load_program(path, task)
    assert style_of_saved(saved["label"]).label_first is False
    fields = program.label.signature.fields
    assert [f.json_schema_extra["prefix"] for f in fields.values()] == [f["prefix"] for f in saved["label"]["signature"]["fields"]]
    assert program.label.signature.instructions == saved["label"]["signature"]["instructions"]
    assert len(program.label.demos) == len(saved["label"]["demos"])
    assert program.style.adapter == "chat"  # the adapter is not in the file: the default's


def test_a_program_saved_in_another_layout_loads_into_a_default_built_one(tmp_path):
    style = PromptStyle(label_first=True, rationale=False, definitions="short")
    program = build_program(SINGLE, style=style)
    program.label.demos = [dspy.Example(report=REPORT, label="Fall", evidence=["found on the floor beside the bed"])]
    path = tmp_path / "label-first.json"
    program.save(str(path))
    loaded = load_program(path, SINGLE, style=ORIGINAL)
    assert list(loaded.label.signature.output_fields) == ["label", "evidence"]
    assert loaded.dump_state() == program.dump_state()
    rag = build_program(SINGLE, "rag", retriever=lambda t, k, e: [], style=style)
    rag.save(str(tmp_path / "rag.json"))
    loaded_rag = load_program(tmp_path / "rag.json", SINGLE, retriever=lambda t, k, e: [])
    assert list(loaded_rag.label_with_examples.signature.output_fields) == ["label", "evidence"]


def test_optimized_files_are_untouched_by_loading(tmp_path):
    copy = tmp_path / "harm.json"
    shutil.copy(REPO / "optimized" / "harm.json", copy)
    before = copy.read_bytes()
    load_program(copy, find_task("harm"))
    assert copy.read_bytes() == before
