"""DSPy signatures: labelling signatures built from a task's definition, and the report summary.

Usage: `labelling_signature(task)` (zero-shot) or `labelling_signature(task, with_examples=True)` (RAG),
laid out as `style` says (`PromptStyle`: answer first or last, rationale or not, full or short definitions);
`SummariseReport`. A signature's instructions are the prompt: they carry the task description and
every label's definition. Output types are bounded (quote count and length, rationale length, list
sizes) so that the grammar llama.cpp builds from their JSON schema also bounds the answer's length.
"""

from __future__ import annotations

import re
from typing import Literal

import dspy
import pydantic
from pydantic_core import core_schema

from programs.labels import FINDING_STATUSES
from programs.prompt_style import ORIGINAL, PromptStyle, default_style, short_definitions

MAX_QUOTES = 3
QUOTE_CHARS = 200
RATIONALE_CHARS = 300
SUMMARY_CHARS = 280
SUMMARY_QUOTES = 2
SUMMARY_QUOTE_CHARS = 150

# The output field that holds the answer, per task kind (also the key in examples and predictions).
ANSWER_FIELD = {"single": "label", "multi": "labels", "findings": "findings"}


def bounded_text(name: str, max_chars: int) -> type:
    """A `str` type whose JSON schema says `maxLength`; its name is what the prompt shows."""

    def schema(cls, source, handler):
        return core_schema.str_schema(max_length=max_chars)

    return type(name, (str,), {"__get_pydantic_core_schema__": classmethod(schema), "__module__": __name__})


def bounded_list(name: str, item, max_items: int, min_items: int = 0) -> type:
    """A `list` type whose JSON schema says `maxItems` (pydantic drops the bound of an outer `Annotated`)."""

    def schema(cls, source, handler):
        return core_schema.list_schema(handler.generate_schema(item), min_length=min_items or None, max_length=max_items)

    return type(name, (list,), {"__get_pydantic_core_schema__": classmethod(schema), "__module__": __name__})


Quote = bounded_text("Quote", QUOTE_CHARS)
Quotes = bounded_list("Quotes", Quote, MAX_QUOTES)
Rationale = bounded_text("Rationale", RATIONALE_CHARS)

EVIDENCE_DESC = f"up to {MAX_QUOTES} short passages copied word for word from the report that support the answer"
RATIONALE_DESC = "one or two sentences on why"
EXAMPLES_DESC = "reports like this one, with the labels reviewers gave them"


def field_name(label: str) -> str:
    """A Python identifier for a finding name ('Pleural Thickening' -> 'pleural_thickening')."""
    name = re.sub(r"\W+", "_", label.strip()).strip("_").lower() or "finding"
    return f"f_{name}" if name[0].isdigit() else name


def findings_model(task) -> type[pydantic.BaseModel]:
    """One status field per finding; the JSON keys are the finding names as the task file spells them."""
    status = Literal[FINDING_STATUSES]  # type: ignore[valid-type]
    fields, seen = {}, set()
    for label in task.labels:
        name = field_name(label.name)
        while name in seen:
            name += "_"
        seen.add(name)
        fields[name] = (status, pydantic.Field(alias=label.name))
    return pydantic.create_model("Findings", __config__=pydantic.ConfigDict(extra="forbid", populate_by_name=True), **fields)


def answer_type(task):
    labels = tuple(task.label_names)
    if task.kind == "single":
        return Literal[labels]  # type: ignore[valid-type]
    if task.kind == "multi":
        return bounded_list("Labels", Literal[labels], len(labels), min_items=1)  # type: ignore[valid-type]
    return findings_model(task)


def instructions(task, with_examples: bool = False, style: PromptStyle = ORIGINAL) -> str:
    lines = [task.description, "", "Findings:" if task.kind == "findings" else "Labels:"]
    definitions = [label.definition for label in task.labels]
    if style.definitions == "short":
        definitions = short_definitions(definitions)
    lines += [f"- {label.name}: {definition}" for label, definition in zip(task.labels, definitions)]
    lines.append("")
    if task.kind == "single":
        lines.append("Choose the one label that fits the report best.")
    elif task.kind == "multi":
        lines.append("Choose every label that applies to the report (at least one, each at most once).")
    else:
        lines.append("Give every finding a status: positive (the report says it is present), negative (the report "
                     "says it is absent), uncertain (possible or not excluded), not_mentioned (the report does not say).")
    if with_examples:
        lines.append("Similar reports with reviewers' labels are given as examples: use them to see how the labels "
                     "are applied, but label this report on what it says.")
    lines.append("Copy evidence word for word from the report; never paraphrase it or quote the examples.")
    return "\n".join(lines)


def labelling_signature(task, with_examples: bool = False, style: PromptStyle | None = None) -> type[dspy.Signature]:
    """The task's labelling signature; `style` None is the task kind's default (`default_style`)."""
    style = style or default_style(task.kind)
    fields = {}
    if with_examples:
        fields["examples"] = (str, dspy.InputField(desc=EXAMPLES_DESC))
    fields["report"] = (str, dspy.InputField())
    answer = {ANSWER_FIELD[task.kind]: (answer_type(task), dspy.OutputField())}
    if style.label_first:
        fields.update(answer)
    fields["evidence"] = (Quotes, dspy.OutputField(desc=EVIDENCE_DESC))
    if style.rationale:
        fields["rationale"] = (Rationale, dspy.OutputField(desc=RATIONALE_DESC))
    if not style.label_first:
        fields.update(answer)
    return dspy.Signature(fields, instructions(task, with_examples, style))


SummaryText = bounded_text("SummaryText", SUMMARY_CHARS)
SummaryQuote = bounded_text("SummaryQuote", SUMMARY_QUOTE_CHARS)
SummaryQuotes = bounded_list("SummaryQuotes", SummaryQuote, SUMMARY_QUOTES)


class SummaryPart(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    text: SummaryText
    evidence: SummaryQuotes


SUMMARY_PARTS = ("what_happened", "patient_outcome", "contributing_factors", "immediate_actions", "reviewer_checks")


class SummariseReport(dspy.Signature):
    """Summarise one patient-safety or clinical report for a reviewer, in plain words and only from the report.

    Each part has a short `text` and `evidence`: passages copied word for word from the report that back it.
    If the report does not say something, write "not stated" and give no evidence; do not guess."""

    report: str = dspy.InputField()
    what_happened: SummaryPart = dspy.OutputField()
    patient_outcome: SummaryPart = dspy.OutputField(desc="harm or outcome for the patient")
    contributing_factors: SummaryPart = dspy.OutputField()
    immediate_actions: SummaryPart = dspy.OutputField(desc="what staff did at the time")
    reviewer_checks: SummaryPart = dspy.OutputField(desc="what a reviewer should check or ask next")
