"""Checking evidence quotes: each must be a span of the report, long enough to say something, and not
text the prompt itself showed the model.

Usage: `check_quotes(["patient found on the floor"], report_text, fixed_text=prompt_text(signature))`
-> EvidenceCheck(verified, unsupported, reasons); `check.reason_counts()` -> {"too_short": 1, ...}.
A quote is supported when (after folding case, collapsing whitespace and dropping the quote marks a
model adds) it occurs in the report, has at least MIN_QUOTE_WORDS words and MIN_QUOTE_CHARS
non-space characters (or is the whole report), and its words are not a run of the prompt's fixed text
(instructions, label names and definitions, field names, worked examples). Evidence counts as
verified only when there is at least one quote and every quote is supported: an empty list proves
nothing, and one bad quote spoils the set.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

# Quote marks and trailing punctuation a model adds around a quote without changing it.
_EDGE = " \t\n\"'`“”‘’«».,;:"

# A quote must be a phrase, not a term: one or two words ("fall", "harm", "no injury") occur in
# reports of every label, cannot carry who/what/negation together, and are what a small model
# copies from the label names. Three words can ("no injury noted", "bed rails down"); the character
# floor stops three tiny words ("he was on") passing. Both must hold.
MIN_QUOTE_WORDS = 3
MIN_QUOTE_CHARS = 12

# Why a quote was rejected, in the order they are tested.
PROMPT_TEXT = "prompt_text"  # its words are a run of the prompt's fixed text: copied, whether or not the report has it
NOT_IN_REPORT = "not_in_report"  # not a span of the report: invented or paraphrased
TOO_SHORT = "too_short"  # a span of the report, but too short to show anything
REASONS = (PROMPT_TEXT, NOT_IN_REPORT, TOO_SHORT)


def normalise(text: str) -> str:
    return " ".join(str(text).casefold().split())


def _words(text: str) -> str:
    # Word runs, punctuation-blind and padded, so "Fall:" matches "- Fall: the patient..." on word boundaries.
    return " " + " ".join(re.findall(r"\w+", str(text).casefold())) + " "


def _rejection(quote: str, report: str, fixed_words: str) -> str | None:
    needle = normalise(quote).strip(_EDGE)
    words = _words(needle)
    if fixed_words.strip() and words.strip() and words in fixed_words:
        return PROMPT_TEXT
    if not needle or needle not in report:
        return NOT_IN_REPORT if needle else TOO_SHORT
    long_enough = len(needle.split()) >= MIN_QUOTE_WORDS and len(needle.replace(" ", "")) >= MIN_QUOTE_CHARS
    if not long_enough and needle != report.strip(_EDGE):
        return TOO_SHORT
    return None


def rejection(quote: str, source: str, fixed_text: str = "") -> str | None:
    """Why `quote` is not evidence from `source` (one of REASONS), or None when it is."""
    return _rejection(quote, normalise(source), _words(fixed_text))


def is_supported(quote: str, source: str, fixed_text: str = "") -> bool:
    return rejection(quote, source, fixed_text) is None


@dataclass(frozen=True)
class EvidenceCheck:
    verified: bool
    unsupported: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # reasons[i] is why unsupported[i] was rejected

    def reason_counts(self) -> dict[str, int]:
        return dict(Counter(self.reasons))


def check_quotes(quotes, source: str, fixed_text: str = "") -> EvidenceCheck:
    quotes = [str(q) for q in (quotes or [])]
    report, fixed_words = normalise(source), _words(fixed_text)
    rejected = [(q, reason) for q in quotes if (reason := _rejection(q, report, fixed_words))]
    return EvidenceCheck(verified=bool(quotes) and not rejected, unsupported=[q for q, _ in rejected],
                         reasons=[reason for _, reason in rejected])


def _texts(value) -> list[str]:
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in (str(k), *_texts(v))]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _texts(v)]
    return [str(value)]


def prompt_text(signature, demos=(), shown=()) -> str:
    """The fixed part of a prompt built from a DSPy signature: its instructions, every field's name and
    description, the few-shot demos' values, and any other text `shown` (e.g. formatted examples)."""
    parts = [str(signature.instructions)]
    for name, info in signature.fields.items():
        desc = str((info.json_schema_extra or {}).get("desc", ""))
        parts += [name] + ([name.replace("_", " ")] if "_" in name else [])
        parts += [desc] if desc and not desc.startswith("${") else []
    for demo in demos:
        parts += _texts(demo.toDict() if hasattr(demo, "toDict") else dict(demo))
    parts += _texts(list(shown))
    return "\n".join(parts)
