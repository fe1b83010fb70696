"""Evidence checks: only real, long-enough spans of the report count, never text of the prompt's fixed part."""

from __future__ import annotations

import dspy
from dspy.utils.dummies import DummyLM

from incident_lens.inputs.task_files import Label, Task
from programs import Summariser, WorkedExample, build_program, check_quotes, format_examples, is_supported
from programs.prompt_style import ORIGINAL  # these tests pin the original layout; tests/test_prompt_variants.py covers the others
from programs.evidence import (
    MIN_QUOTE_CHARS, MIN_QUOTE_WORDS, NOT_IN_REPORT, PROMPT_TEXT, TOO_SHORT, prompt_text, rejection,
)
from programs.signatures import EVIDENCE_DESC, labelling_signature

TASK = Task("kind", "single", "What kind of incident this is.", ("text",),
            (Label("Fall", "the patient fell or was found on the floor"), Label("Medication", "a drug error"),
             Label("Wrong patient identified", "care given to or planned for the wrong person")),
            label_column="kind")
REPORT = ("Patient found on the floor beside the bed at 03:00 after a fall. No evidence of head injury. "
          "Bed rails were down. Wrong patient identified at the wristband check, corrected before any dose.")
EXAMPLE = WorkedExample("Patient slipped on a wet floor in the corridor.", "Fall")
FIXED = prompt_text(labelling_signature(TASK, style=ORIGINAL))
REAL = "found on the floor beside the bed"


def reason(quote: str, fixed: str = FIXED) -> str | None:
    return rejection(quote, REPORT, fixed)


# --- quotes of each kind ----------------------------------------------------------------------------

def test_a_long_span_of_the_report_is_verified_ignoring_case_whitespace_and_quote_marks():
    check = check_quotes([REAL, '"Bed rails   were DOWN."'], REPORT, FIXED)
    assert check.verified and check.unsupported == [] and check.reasons == []
    assert is_supported(REAL, REPORT, FIXED)


def test_a_paraphrase_is_not_in_the_report():
    assert reason("the patient hit their head") == NOT_IN_REPORT


def test_a_short_span_of_the_report_is_too_short():
    assert reason("fall", fixed="") == TOO_SHORT
    assert reason("bed rails") == TOO_SHORT  # two words
    assert reason("at 03:00 after", fixed="") is None  # three words and 12 characters: the floor itself
    assert MIN_QUOTE_WORDS == 3 and MIN_QUOTE_CHARS == 12
    assert reason("at 03:00", fixed="") == TOO_SHORT


def test_a_short_report_quoted_whole_is_long_enough():
    assert check_quotes(["No effusion."], "No effusion.").verified
    assert not check_quotes(["effusion"], "No effusion.").verified


def test_a_field_name_is_prompt_text_even_when_the_report_contains_it():
    assert "evidence" in REPORT.lower()
    assert reason("evidence") == PROMPT_TEXT
    assert reason("Rationale:") == PROMPT_TEXT
    assert reason("label") == PROMPT_TEXT


def test_a_label_name_in_the_report_is_prompt_text():
    assert reason("Fall") == PROMPT_TEXT
    # Long enough and a real span, but exactly what the label list showed the model.
    assert reason("Wrong patient identified") == PROMPT_TEXT


def test_text_of_the_instructions_or_definitions_is_prompt_text():
    assert reason("Choose the one label that fits the report best.") == PROMPT_TEXT  # not in the report
    assert reason(EVIDENCE_DESC) == PROMPT_TEXT  # a field description
    assert reason("found on the floor") == PROMPT_TEXT  # in the report, but also the Fall definition's words
    assert reason("What kind of incident this is") == PROMPT_TEXT


def test_a_quote_from_a_worked_example_is_prompt_text_when_the_examples_are_given():
    shown = format_examples(TASK, [EXAMPLE])
    rag_fixed = prompt_text(labelling_signature(TASK, with_examples=True, style=ORIGINAL), shown=[shown])
    assert reason("slipped on a wet floor in the corridor", rag_fixed) == PROMPT_TEXT
    assert reason("slipped on a wet floor in the corridor") == NOT_IN_REPORT  # without them: merely invented
    assert reason(REAL, rag_fixed) is None


def test_an_empty_list_or_blank_quote_is_not_verified():
    assert not check_quotes([], REPORT, FIXED).verified
    assert not check_quotes(None, REPORT).verified
    check = check_quotes(["  "], REPORT, FIXED)
    assert not check.verified and check.reasons == [TOO_SHORT]


def test_one_bad_quote_spoils_the_set_and_reasons_can_be_counted():
    quotes = [REAL, "fall", "evidence", "the patient hit their head", "bed rails"]
    check = check_quotes(quotes, REPORT, FIXED)
    assert not check.verified
    assert check.unsupported == quotes[1:]
    assert check.reasons == [PROMPT_TEXT, PROMPT_TEXT, NOT_IN_REPORT, TOO_SHORT]
    assert check.reason_counts() == {PROMPT_TEXT: 2, NOT_IN_REPORT: 1, TOO_SHORT: 1}


def test_without_fixed_text_only_the_report_and_length_are_checked():
    assert check_quotes(["found on the floor"], REPORT).verified
    assert not is_supported("fall", REPORT)


def test_prompt_text_holds_instructions_field_names_and_descriptions():
    words = FIXED.casefold()
    for text in ("what kind of incident this is", "wrong patient identified", "a drug error",
                 "evidence", "rationale", "label", "report", EVIDENCE_DESC.casefold()):
        assert text in words


# --- through the programs, with DummyLM -------------------------------------------------------------

def dummy(answers: list[dict]) -> DummyLM:
    return DummyLM(answers, adapter=dspy.JSONAdapter())


def test_zero_shot_labeller_rejects_a_label_name_as_evidence_and_accepts_a_real_span():
    lm = dummy([
        {"evidence": ["Fall"], "rationale": "a fall", "label": "Fall"},
        {"evidence": [REAL], "rationale": "a fall", "label": "Fall"},
    ])
    program = build_program(TASK, style=ORIGINAL)
    with dspy.context(lm=lm):
        named, real = program(report=REPORT), program(report=REPORT)
    assert named.evidence_verified is False
    assert named.unsupported_evidence == ["Fall"] and named.unsupported_reasons == [PROMPT_TEXT]
    assert real.evidence_verified is True and real.unsupported_evidence == [] and real.unsupported_reasons == []


def test_zero_shot_labeller_counts_its_demos_as_prompt_text():
    program = build_program(TASK, style=ORIGINAL)
    program.label.demos = [dspy.Example(report="Pt slipped in the shower room, no injury.", evidence=["slipped in the shower room"],
                                        rationale="fell", label="Fall")]
    lm = dummy([{"evidence": ["slipped in the shower room"], "rationale": "a fall", "label": "Fall"}])
    with dspy.context(lm=lm):
        prediction = program(report=REPORT)
    assert not prediction.evidence_verified and prediction.unsupported_reasons == [PROMPT_TEXT]


def test_rag_labeller_rejects_a_quote_from_its_examples_that_the_report_lacks():
    lm = dummy([
        {"evidence": ["slipped on a wet floor in the corridor"], "rationale": "like example 1", "label": "Fall"},
        {"evidence": [REAL], "rationale": "like example 1", "label": "Fall"},
    ])
    program = build_program(TASK, "rag", style=ORIGINAL, retriever=lambda text, k, exclude: [EXAMPLE], k=1)
    with dspy.context(lm=lm):
        copied, real = program(report=REPORT), program(report=REPORT)
    assert not copied.evidence_verified and copied.unsupported_reasons == [NOT_IN_REPORT]
    assert real.evidence_verified


def test_summariser_rejects_its_own_instructions_and_part_names():
    def part(text, evidence):
        return {"text": text, "evidence": evidence}

    lm = dummy([{"what_happened": part("Found on the floor.", [REAL]),
                 "patient_outcome": part("No injury.", ["patient outcome"]),
                 "contributing_factors": part("Bed rails.", ["passages copied word for word from the report"]),
                 "immediate_actions": part("Corrected.", ["corrected before any dose"]),
                 "reviewer_checks": part("not stated", [])}])
    with dspy.context(lm=lm):
        prediction = Summariser()(report=REPORT)
    parts = prediction.parts
    assert parts["what_happened"]["evidence_verified"] and parts["immediate_actions"]["evidence_verified"]
    assert parts["patient_outcome"]["unsupported_reasons"] == [PROMPT_TEXT]
    assert parts["contributing_factors"]["unsupported_reasons"] == [PROMPT_TEXT]
    assert not prediction.evidence_verified and prediction.unsupported_reasons == [PROMPT_TEXT, PROMPT_TEXT]
