"""How a labelling prompt is laid out: answer field order, rationale, label definitions, adapter.

Usage: `PromptStyle(label_first=True, rationale=False, definitions="short", adapter="chat")`;
`default_style(task.kind)`; `style_of_saved(predictor_state)` for a file in `optimized/`.
The number of few-shot demos is not a style: it is what a compiled program holds (`LabeledFewShot(k)`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFINITIONS = ("full", "short")
ADAPTERS = ("json", "chat")
# Words kept of a definition's first clause in "short" definitions: enough to name the idea.
SHORT_WORDS = 10


@dataclass(frozen=True)
class PromptStyle:
    """One layout of a labelling prompt; every layout is grammar-constrained to the task's labels."""

    label_first: bool = False  # answer field before the evidence (and rationale), or after them
    rationale: bool = True  # ask for a one- or two-sentence rationale
    definitions: str = "full"  # "full": each label's whole definition; "short": its first clause, cut
    adapter: str = "json"  # "json": one JSON object; "chat": DSPy's `[[ ## field ## ]]` sections

    def __post_init__(self):
        if self.definitions not in DEFINITIONS:
            raise ValueError(f"definitions must be one of {', '.join(DEFINITIONS)}, not {self.definitions!r}")
        if self.adapter not in ADAPTERS:
            raise ValueError(f"adapter must be one of {', '.join(ADAPTERS)}, not {self.adapter!r}")

    def name(self) -> str:
        """A short tag for tables: 'base' for the original layout, else what differs from it."""
        base = PromptStyle()
        parts = [("label-first" if self.label_first else "evidence-first") if self.label_first != base.label_first else "",
                 "no-rationale" if not self.rationale and base.rationale else "rationale" if self.rationale != base.rationale else "",
                 f"{self.definitions}-definitions" if self.definitions != base.definitions else "",
                 f"{self.adapter}-adapter" if self.adapter != base.adapter else ""]
        return "+".join(p for p in parts if p) or "base"


# The original layout (evidence, rationale, then the answer; full definitions; JSON): what every file in
# optimized/ was compiled with, and what a saved program without other clues is read as.
ORIGINAL = PromptStyle()

# The layout without the rationale: evidence, then the answer; full definitions; JSON.
NO_RATIONALE = PromptStyle(rationale=False)

# Default per task kind, from bench/bench_prompt_variants.py on SmolLM2-135M-Instruct (December 2026:
# `--n 10 --n-findings 4`, 6 data sets, bench/out/prompt_variants.md). No variant beat answering the
# majority label: base gave one answer to 90-100 % of the harm, VAERS and MAUDE reports, no variant passed
# accuracy 0.30 on balanced single-label rows (a constant answer: 0.20), and every zero-shot layout gave one
# findings answer (all "not mentioned") to every chest X-ray; the best single-label differences (short
# definitions 0.10, chat adapter 0.10 mean macro-F1 against base 0.06) were one report in ten, and their
# combination fell back to 0.05. So the default is the cheapest layout that is no worse: no rationale
# halves the single-label answer (median 27 output tokens against 49; 2.3 against 2.9 s per report) at the
# same macro-F1 (0.06 against 0.06), and on findings trims 5-10 % of the answer at the same 0.00.
# Trade-off: the `rationale` column of `label` output is empty unless a style with a rationale is asked for.
# Demos moved single-label scores by one report at most; 2 demos were the one findings variant above 0 (0.21 on 4
# demo cxr reports, 0.00 on OpenI) and need a train split: `optimise --optimizer labeled`, not a default.
# A kind the bench had no data set for ("multi") takes the single-label choice.
DEFAULT_STYLES = {
    "single": NO_RATIONALE,
    "multi": NO_RATIONALE,
    "findings": NO_RATIONALE,
}


def default_style(task_kind: str) -> PromptStyle:
    return DEFAULT_STYLES.get(task_kind, ORIGINAL)


def _first_clause(text: str) -> str:
    return re.split(r"[.;:]\s|[.;:]$| \(| - |, (?:such as|for example|including|e\.g\.)\b", " ".join(text.split()), maxsplit=1)[0]


def short_definitions(definitions: list[str], max_words: int = SHORT_WORDS) -> list[str]:
    """Each definition's first clause, without the words every definition starts with, cut to `max_words`.

    ("Any patient safety incident that required extra observation ..." -> "that required extra observation ...")
    """
    clauses = [_first_clause(d).split() for d in definitions]
    shared = 0
    if len(clauses) > 1:
        while all(len(c) > shared + 1 for c in clauses) and len({c[shared].lower() for c in clauses}) == 1:
            shared += 1
    return [" ".join(c[shared:shared + max_words]).rstrip(",") for c in clauses]


def style_of_saved(predictor_state: dict, adapter: str | None = None, task_kind: str = "single") -> PromptStyle:
    """The field layout a saved predictor was built with, read from its fields' prefixes (in saved order).

    DSPy restores field descriptions by position, so a saved program must be rebuilt with its own
    field order before `load`. Definitions come back with the saved instructions; the adapter is not
    saved, so it is the task kind's default unless given.
    """
    prefixes = [str(f.get("prefix", "")).rstrip(":").strip().lower() for f in predictor_state["signature"]["fields"]]
    outputs = [p for p in prefixes if p not in ("report", "examples")]
    label_first = bool(outputs) and outputs[0] not in ("evidence", "rationale")
    return PromptStyle(label_first=label_first, rationale="rationale" in outputs,
                       definitions=default_style(task_kind).definitions,
                       adapter=adapter or default_style(task_kind).adapter)
