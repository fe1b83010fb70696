"""Programs: signatures from task files, evidence checks, metrics, save/load (DummyLM), and the real model path."""

from __future__ import annotations

import json
from pathlib import Path

import dspy
import pytest
from dspy.utils.dummies import DummyLM

from incident_lens.config import Settings
from incident_lens.llm import build_lm
from incident_lens.inputs.task_files import Label, Task, find_task
from programs.labels import FINDING_STATUSES
from programs.prompt_style import ORIGINAL  # these tests pin the original layout; tests/test_prompt_variants.py covers the others
from programs import (
    RagLabeller, Summariser, WorkedExample, build_program, check_quotes, example_from_row, labelling_signature,
    load_program, prediction_labels, saved_program_kind, task_metric,
)
from programs.adapter import ADAPTER
from programs.signatures import MAX_QUOTES, QUOTE_CHARS, RATIONALE_CHARS

SINGLE = Task("kind", "single", "What kind of incident this is.", ("text",),
              (Label("Fall", "the patient fell or was found on the floor"), Label("Medication", "a drug error")),
              label_column="kind")
MULTI = Task("factors", "multi", "Contributing factors.", ("text",),
             (Label("Staffing", "too few staff"), Label("Equipment", "a device failed"), Label("Communication", "handover")))
FINDINGS = Task("cxr", "findings", "Chest x-ray findings.", ("findings",),
                (Label("Effusion", "pleural fluid"), Label("Pleural Thickening", "thick pleura"), Label("Edema", "fluid")))
REPORT = "Patient found on the floor beside the bed at 03:00.  No injury noted. Bed rails were down."


def dummy(answers: list[dict]) -> DummyLM:
    return DummyLM(answers, adapter=dspy.JSONAdapter())


# --- signatures ----------------------------------------------------------------------------------

def test_instructions_carry_the_description_and_every_label_definition():
    task = find_task("incident-type")
    sig = labelling_signature(task, style=ORIGINAL)
    assert task.description in sig.instructions
    for label in task.labels:
        assert f"- {label.name}: {label.definition}" in sig.instructions
    assert list(sig.input_fields) == ["report"]
    assert list(sig.output_fields) == ["evidence", "rationale", "label"]
    assert list(labelling_signature(task, with_examples=True, style=ORIGINAL).input_fields) == ["examples", "report"]


def _schema(task) -> dict:
    from dspy.adapters.json_adapter import _get_structured_outputs_response_format

    return _get_structured_outputs_response_format(labelling_signature(task, style=ORIGINAL)).model_json_schema()


def test_output_schema_bounds_the_answer_and_closes_the_label_set():
    props = _schema(SINGLE)["properties"]
    assert props["label"]["enum"] == SINGLE.label_names
    assert props["evidence"]["maxItems"] == MAX_QUOTES and props["evidence"]["items"]["maxLength"] == QUOTE_CHARS
    assert props["rationale"]["maxLength"] == RATIONALE_CHARS
    labels = _schema(MULTI)["properties"]["labels"]
    assert labels["items"]["enum"] == MULTI.label_names and labels["minItems"] == 1 and labels["maxItems"] == 3


def test_findings_answer_has_one_status_per_finding_named_as_in_the_task():
    schema = _schema(FINDINGS)
    model = next(iter(schema["$defs"].values()))
    assert list(model["properties"]) == FINDINGS.label_names
    assert all(p["enum"] == list(FINDING_STATUSES) for p in model["properties"].values())


# --- evidence ------------------------------------------------------------------------------------

def test_quotes_are_checked_ignoring_case_and_whitespace():
    check = check_quotes(["found on the FLOOR   beside the bed", '"No injury noted."'], REPORT)
    assert check.verified and check.unsupported == []


def test_an_invented_quote_is_flagged_and_spoils_verification():
    check = check_quotes(["found on the floor beside the bed", "patient hit their head"], REPORT)
    assert not check.verified and check.unsupported == ["patient hit their head"]


def test_no_quotes_is_not_verified():
    assert not check_quotes([], REPORT).verified
    assert not check_quotes(["  "], REPORT).verified


# --- metrics -------------------------------------------------------------------------------------

def test_metric_per_kind():
    single = task_metric(SINGLE)
    gold = example_from_row(SINGLE, REPORT, "Fall")
    assert single(gold, dspy.Prediction(label="Fall")) == 1.0
    assert single(gold, dspy.Prediction(label="Medication")) == 0.0

    multi = task_metric(MULTI)
    gold = example_from_row(MULTI, REPORT, "Staffing;Equipment")
    assert multi(gold, dspy.Prediction(labels=["Equipment", "Staffing"])) == 1.0
    assert multi(gold, dspy.Prediction(labels=["Staffing"])) == pytest.approx(2 / 3)
    assert multi(gold, dspy.Prediction(labels=["Staffing"]), trace=[]) == 0.0

    findings = task_metric(FINDINGS)
    gold = example_from_row(FINDINGS, REPORT, {"Effusion": "1", "Pleural Thickening": "", "Edema": "uncertain"})
    assert gold.findings == {"Effusion": "positive", "Pleural Thickening": "not_mentioned", "Edema": "uncertain"}
    predicted = {"Effusion": "positive", "Pleural Thickening": "negative", "Edema": "uncertain"}
    assert findings(gold, dspy.Prediction(findings=predicted)) == pytest.approx(2 / 3)


def test_gold_labels_outside_the_task_are_refused():
    with pytest.raises(ValueError, match="not a label"):
        example_from_row(SINGLE, REPORT, "Burns")
    with pytest.raises(ValueError, match="not a finding status"):
        example_from_row(FINDINGS, REPORT, {"Effusion": "maybe"})


def test_example_inputs_are_the_report_only():
    example = example_from_row(SINGLE, REPORT, "Fall")
    assert set(example.inputs().keys()) == {"report"}


# --- modules with DummyLM --------------------------------------------------------------------------

def test_zero_shot_labeller_flags_verified_and_unverified_evidence():
    lm = dummy([
        {"evidence": ["found on the floor beside the bed"], "rationale": "a fall", "label": "Fall"},
        {"evidence": ["the patient slipped in the shower"], "rationale": "a fall", "label": "Fall"},
    ])
    program = build_program(SINGLE, style=ORIGINAL)
    with dspy.context(lm=lm):
        good, bad = program(report=REPORT), program(report=REPORT)
    assert good.label == "Fall" and good.evidence_verified and good.unsupported_evidence == []
    assert not bad.evidence_verified and bad.unsupported_evidence == ["the patient slipped in the shower"]


def test_programs_run_under_the_schema_adapter_whatever_is_configured():
    lm = dummy([{"evidence": [], "rationale": "see [1] and [2]", "label": "Fall"}])
    with dspy.context(lm=lm, adapter=dspy.ChatAdapter()):
        prediction = build_program(SINGLE, style=ORIGINAL)(report=REPORT)
    # A bracketed rationale stays the text the model wrote (DSPy's value parser would make it a list).
    assert prediction.rationale == "see [1] and [2]"


def test_rag_labeller_shows_the_retrieved_examples_and_passes_the_report_id():
    calls = []

    def retrieve(text, k, exclude_id):
        calls.append((text, k, exclude_id))
        return [WorkedExample("Patient slipped on a wet floor in the corridor.", "Fall")]

    lm = dummy([{"evidence": ["found on the floor beside the bed"], "rationale": "like example 1", "label": "Fall"}])
    program = build_program(SINGLE, "rag", style=ORIGINAL, retriever=retrieve, k=3)
    with dspy.context(lm=lm):
        prediction = program(report=REPORT, report_id="INC-1")
    assert calls == [(REPORT, 3, "INC-1")]
    prompt = lm.history[-1]["messages"][-1]["content"]
    assert "Patient slipped on a wet floor in the corridor." in prompt and "Labels: Fall" in prompt
    # The examples come before the report, after the fixed instructions: a stable prompt prefix.
    assert prompt.index("slipped on a wet floor") < prompt.index(REPORT)
    assert prediction.evidence_verified


def test_rag_labeller_needs_a_retriever():
    with pytest.raises(ValueError, match="retriever"):
        build_program(SINGLE, "rag")


def test_save_and_load_round_trip_keeps_demos_and_kind(tmp_path):
    program = build_program(SINGLE, style=ORIGINAL)
    program.label.demos = [dspy.Example(report=REPORT, evidence=["found on the floor"], rationale="fell", label="Fall")]
    path = tmp_path / "compiled.json"
    program.save(str(path))
    assert saved_program_kind(json.loads(path.read_text())) == "zero-shot"
    loaded = load_program(path, SINGLE)
    assert loaded.dump_state() == program.dump_state()

    rag = build_program(SINGLE, "rag", style=ORIGINAL, retriever=lambda t, k, e: [])
    rag.save(str(tmp_path / "rag.json"))
    assert isinstance(load_program(tmp_path / "rag.json", SINGLE, retriever=lambda t, k, e: []), RagLabeller)


# --- the real model path -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_lm(tiny_gguf, tmp_path_factory):
    settings = Settings(home=tmp_path_factory.mktemp("ws"), model_path=tiny_gguf, n_ctx=4096, threads=1)
    return build_lm(settings, cache=False)


@pytest.mark.parametrize("task", [SINGLE, MULTI, FINDINGS], ids=["single", "multi", "findings"])
def test_random_model_answers_are_schema_valid_and_evidence_is_checked(tiny_lm, task):
    reports = [REPORT, "Enoxaparin 40 mg omitted on the evening round; pharmacy informed.",
               "Small left pleural effusion. No pulmonary edema."]
    with dspy.context(lm=tiny_lm):
        for text in reports:
            prediction = build_program(task, style=ORIGINAL)(report=text)
            labels = prediction_labels(task, prediction)  # raises if outside the label set
            if task.kind == "findings":
                assert set(labels) == set(task.label_names) and set(labels.values()) <= set(FINDING_STATUSES)
            elif task.kind == "multi":
                assert 1 <= len(labels) <= len(task.labels)
            assert isinstance(prediction.evidence, list) and len(prediction.evidence) <= MAX_QUOTES
            # The flag is exactly what checking the quotes against the report says.
            assert prediction.evidence_verified == check_quotes(prediction.evidence, text).verified


def test_summariser_checks_each_part_against_the_report():
    def part(text, evidence):
        return {"text": text, "evidence": evidence}

    lm = dummy([{"what_happened": part("Found on the floor.", ["found on the floor beside the bed"]),
                 "patient_outcome": part("No injury.", ["No injury noted"]),
                 "contributing_factors": part("Bed rails.", ["bed rails were up"]),
                 "immediate_actions": part("not stated", []),
                 "reviewer_checks": part("Check the falls assessment.", [])}])
    with dspy.context(lm=lm):
        prediction = Summariser()(report=REPORT)
    parts = prediction.parts
    assert parts["what_happened"]["evidence_verified"] and parts["patient_outcome"]["evidence_verified"]
    assert not parts["contributing_factors"]["evidence_verified"]
    assert parts["contributing_factors"]["unsupported_evidence"] == ["bed rails were up"]
    assert not parts["immediate_actions"]["evidence_verified"]  # nothing quoted, nothing verified
    assert not prediction.evidence_verified and prediction.unsupported_evidence == ["bed rails were up"]


def test_adapter_is_json_with_schema():
    assert isinstance(ADAPTER, dspy.JSONAdapter)
