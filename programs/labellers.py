"""Labelling programs for any task file: zero-shot, and retrieval-augmented (labelled neighbours as examples).

Usage:
    program = build_program(task, "zero-shot")            # or "rag", retriever=retrieve
    prediction = program(report=text)                       # .label / .labels / .findings, .evidence, ...
The retriever is injected (`retrieve(text, k, exclude_id) -> list[WorkedExample]`): programs never
open an index. Predictor attribute names (`label`, `label_with_examples`) are keys in saved JSON files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import dspy

from programs.adapter import ADAPTER
from programs.evidence import check_quotes, prompt_text
from programs.signatures import ANSWER_FIELD, labelling_signature

# Room for the longest answer the output schema allows (quotes + rationale + labels), with margin.
LABEL_MAX_TOKENS = 1024
# Characters of each worked example shown to the model: enough to see the pattern, bounded prompt.
EXAMPLE_CHARS = 600
DEFAULT_K = 4


@dataclass(frozen=True)
class WorkedExample:
    """A labelled report shown to the model: its text and its label(s) (str, list or finding -> status)."""

    text: str
    labels: object


class Retriever:
    """Wraps the injected retrieval callable so that DSPy's deep copies of a program share it."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, text: str, k: int, exclude_id: str | None = None) -> list[WorkedExample]:
        return list(self.fn(text, k, exclude_id))

    def __deepcopy__(self, memo):
        return self


def format_labels(task, labels) -> str:
    if task.kind == "single":
        return str(labels)
    if task.kind == "multi":
        return "; ".join(labels) if isinstance(labels, (list, tuple)) else str(labels)
    stated = {name: status for name, status in dict(labels).items() if status and status != "not_mentioned"}
    return ", ".join(f"{name}: {status}" for name, status in stated.items()) or "no finding mentioned"


def format_examples(task, examples: list[WorkedExample]) -> str:
    if not examples:
        return "(no labelled examples found)"
    blocks = []
    for n, example in enumerate(examples, start=1):
        text = example.text if len(example.text) <= EXAMPLE_CHARS else example.text[:EXAMPLE_CHARS] + " [...]"
        blocks.append(f"Example {n}\nReport: {text}\nLabels: {format_labels(task, example.labels)}")
    return "\n\n".join(blocks)


def checked(task, prediction: dspy.Prediction, report: str, fixed_text: str = "") -> dspy.Prediction:
    """The prediction with `evidence_verified`, `unsupported_evidence` and `unsupported_reasons` (one per
    unsupported quote) from checking its quotes against the report and the prompt's `fixed_text`."""
    check = check_quotes(prediction.evidence, report, fixed_text)
    fields = {name: prediction[name] for name in ("evidence", "rationale", ANSWER_FIELD[task.kind])}
    return dspy.Prediction(**fields, evidence_verified=check.verified, unsupported_evidence=check.unsupported,
                           unsupported_reasons=check.reasons)


class ZeroShotLabeller(dspy.Module):
    """The task's label definitions, the report, and a schema-constrained answer with evidence."""

    def __init__(self, task):
        super().__init__()
        self.task = task
        self.label = dspy.Predict(labelling_signature(task), max_tokens=LABEL_MAX_TOKENS)

    def forward(self, report: str) -> dspy.Prediction:
        with dspy.context(adapter=ADAPTER):
            prediction = self.label(report=report)
        return checked(self.task, prediction, report, prompt_text(self.label.signature, self.label.demos))


class RagLabeller(dspy.Module):
    """Like the zero-shot labeller, with the k most similar labelled reports given as worked examples.

    The examples sit in the user message after the fixed instructions, so the instructions stay a
    shared prompt prefix that llama.cpp's KV cache reuses from one report to the next.
    """

    def __init__(self, task, retriever, k: int = DEFAULT_K):
        super().__init__()
        if retriever is None:
            raise ValueError("the RAG labeller needs a retriever")
        self.task = task
        self.k = k
        self.retrieve = retriever if isinstance(retriever, Retriever) else Retriever(retriever)
        self.label_with_examples = dspy.Predict(labelling_signature(task, with_examples=True), max_tokens=LABEL_MAX_TOKENS)

    def forward(self, report: str, report_id: str | None = None) -> dspy.Prediction:
        shown = format_examples(self.task, self.retrieve(report, self.k, report_id))
        with dspy.context(adapter=ADAPTER):
            prediction = self.label_with_examples(examples=shown, report=report)
        predictor = self.label_with_examples
        # The retrieved examples are not the prompt's fixed part: they are chosen for being like this
        # report, so their stock phrases ("no injury noted") are often this report's words too. A quote
        # copied from them that the report lacks already fails as not in the report.
        return checked(self.task, prediction, report, prompt_text(predictor.signature, predictor.demos))


PROGRAM_KINDS = ("zero-shot", "rag")
_PREDICTOR_OF_KIND = {"zero-shot": "label", "rag": "label_with_examples"}


def build_program(task, kind: str = "zero-shot", retriever=None, k: int = DEFAULT_K) -> dspy.Module:
    if kind == "zero-shot":
        return ZeroShotLabeller(task)
    if kind == "rag":
        return RagLabeller(task, retriever, k=k)
    raise ValueError(f"unknown program kind {kind!r}; use one of {', '.join(PROGRAM_KINDS)}")


def saved_program_kind(state: dict) -> str:
    """Which labeller a saved program's state belongs to (from its predictor names)."""
    for kind, predictor in _PREDICTOR_OF_KIND.items():
        if predictor in state:
            return kind
    raise ValueError(f"not a saved labelling program (predictors: {', '.join(k for k in state if k != 'metadata') or 'none'})")


def load_program(path, task, retriever=None, k: int = DEFAULT_K) -> dspy.Module:
    """A compiled labeller from `optimized/*.json` (saved with `program.save(path)`), for this task."""
    state = json.loads(Path(path).read_text(encoding="utf-8"))
    program = build_program(task, saved_program_kind(state), retriever=retriever, k=k)
    program.load(str(path))
    return program
