"""Labelling programs for any task file: zero-shot, and retrieval-augmented (labelled neighbours as examples).

Usage:
    program = build_program(task, "zero-shot")            # or "rag", retriever=retrieve
    program = build_program(task, style=PromptStyle(label_first=True))   # another prompt layout
    prediction = program(report=text)                       # .label / .labels / .findings, .evidence, ...
The retriever is injected (`retrieve(text, k, exclude_id) -> list[WorkedExample]`): programs never
open an index. Predictor attribute names (`label`, `label_with_examples`) are keys in saved JSON files.
The prompt layout is `style` (default: `default_style(task.kind)`); loading a saved program rebuilds its
predictor with the field layout the file was saved with (DSPy restores field descriptions by position).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import dspy

from programs.adapter import adapter_for
from programs.evidence import check_quotes, prompt_text
from programs.prompt_style import PromptStyle, default_style, style_of_saved
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
    fields = {name: prediction[name] for name in ("evidence", ANSWER_FIELD[task.kind])}
    # A layout without a rationale still answers with one field for it: empty.
    fields["rationale"] = prediction.get("rationale", "") or ""
    return dspy.Prediction(**fields, evidence_verified=check.verified, unsupported_evidence=check.unsupported,
                           unsupported_reasons=check.reasons)


class _Labeller(dspy.Module):
    """What both labellers share: the style, its one predictor, and loading a saved file's field layout."""

    predictor_name = ""
    with_examples = False

    def _build_predictor(self, style: PromptStyle) -> None:
        self.style = style
        signature = labelling_signature(self.task, with_examples=self.with_examples, style=style)
        setattr(self, self.predictor_name, dspy.Predict(signature, max_tokens=LABEL_MAX_TOKENS))

    def load_state(self, state, **kwargs):
        saved = state.get(self.predictor_name)
        if saved is not None:
            layout = style_of_saved(saved, adapter=self.style.adapter, task_kind=self.task.kind)
            if (layout.label_first, layout.rationale) != (self.style.label_first, self.style.rationale):
                self._build_predictor(replace(self.style, label_first=layout.label_first, rationale=layout.rationale))
        return super().load_state(state, **kwargs)


class ZeroShotLabeller(_Labeller):
    """The task's label definitions, the report, and a schema-constrained answer with evidence."""

    predictor_name = "label"

    def __init__(self, task, style: PromptStyle | None = None):
        super().__init__()
        self.task = task
        self._build_predictor(style or default_style(task.kind))

    def forward(self, report: str) -> dspy.Prediction:
        with dspy.context(adapter=adapter_for(self.style)):
            prediction = self.label(report=report)
        return checked(self.task, prediction, report, prompt_text(self.label.signature, self.label.demos))


class RagLabeller(_Labeller):
    """Like the zero-shot labeller, with the k most similar labelled reports given as worked examples.

    The examples sit in the user message after the fixed instructions, so the instructions stay a
    shared prompt prefix that llama.cpp's KV cache reuses from one report to the next.
    """

    predictor_name = "label_with_examples"
    with_examples = True

    def __init__(self, task, retriever, k: int = DEFAULT_K, style: PromptStyle | None = None):
        super().__init__()
        if retriever is None:
            raise ValueError("the RAG labeller needs a retriever")
        self.task = task
        self.k = k
        self.retrieve = retriever if isinstance(retriever, Retriever) else Retriever(retriever)
        self._build_predictor(style or default_style(task.kind))

    def forward(self, report: str, report_id: str | None = None) -> dspy.Prediction:
        shown = format_examples(self.task, self.retrieve(report, self.k, report_id))
        with dspy.context(adapter=adapter_for(self.style)):
            prediction = self.label_with_examples(examples=shown, report=report)
        predictor = self.label_with_examples
        # The retrieved examples are not the prompt's fixed part: they are chosen for being like this
        # report, so their stock phrases ("no injury noted") are often this report's words too. A quote
        # copied from them that the report lacks already fails as not in the report.
        return checked(self.task, prediction, report, prompt_text(predictor.signature, predictor.demos))


PROGRAM_KINDS = ("zero-shot", "rag")
_PREDICTOR_OF_KIND = {"zero-shot": "label", "rag": "label_with_examples"}


def build_program(task, kind: str = "zero-shot", retriever=None, k: int = DEFAULT_K,
                  style: PromptStyle | None = None) -> dspy.Module:
    """A labeller of `kind` for `task`, laid out as `style` (None: the task kind's default)."""
    if kind == "zero-shot":
        return ZeroShotLabeller(task, style=style)
    if kind == "rag":
        return RagLabeller(task, retriever, k=k, style=style)
    raise ValueError(f"unknown program kind {kind!r}; use one of {', '.join(PROGRAM_KINDS)}")


def saved_program_kind(state: dict) -> str:
    """Which labeller a saved program's state belongs to (from its predictor names)."""
    for kind, predictor in _PREDICTOR_OF_KIND.items():
        if predictor in state:
            return kind
    raise ValueError(f"not a saved labelling program (predictors: {', '.join(k for k in state if k != 'metadata') or 'none'})")


def load_program(path, task, retriever=None, k: int = DEFAULT_K, style: PromptStyle | None = None) -> dspy.Module:
    """A compiled labeller from `optimized/*.json` (saved with `program.save(path)`), for this task.

    Its field layout is the file's (see `_Labeller.load_state`); `style` sets the rest (adapter)."""
    state = json.loads(Path(path).read_text(encoding="utf-8"))
    program = build_program(task, saved_program_kind(state), retriever=retriever, k=k, style=style)
    program.load(str(path))
    return program
