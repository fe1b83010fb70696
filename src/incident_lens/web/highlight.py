"""Marking text for the pages: query terms in a passage, evidence quotes in a report. Output is escaped HTML.

Usage: `mark_terms("Enoxaparin given twice", "enoxaparin dose")` -> Markup with `<mark>Enoxaparin</mark>`;
`mark_quotes(report_text, ["given twice in error"])` marks each quote wherever it occurs, ignoring case
and spacing (the same reading of "occurs in the report" as evidence checks use).
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

from retrieval.lexical import tokenize

_WORD = re.compile(r"(?u)\b\w+\b")


def _render(text: str, spans: list[tuple[int, int]]) -> Markup:
    out, at = [], 0
    for start, end in _merged(spans):
        out.append(escape(text[at:start]))
        out.append(Markup("<mark>") + escape(text[start:end]) + Markup("</mark>"))
        at = end
    out.append(escape(text[at:]))
    return Markup("").join(out)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def mark_terms(text: str, query: str) -> Markup:
    """Words of `text` whose search token is one of the query's (so "falls" marks "fall")."""
    terms = set(tokenize(query or ""))
    spans = [(m.start(), m.end()) for m in _WORD.finditer(text or "") if terms & set(tokenize(m.group()))]
    return _render(text or "", spans)


def mark_quotes(text: str, quotes) -> tuple[Markup, int]:
    """`text` with every quote marked, and how many of the quotes were found in it."""
    spans, found = [], 0
    for quote in quotes or ():
        words = str(quote).split()
        if not words:
            continue
        pattern = re.compile(r"\s+".join(re.escape(w) for w in words), re.IGNORECASE)
        matches = [(m.start(), m.end()) for m in pattern.finditer(text or "")]
        found += bool(matches)
        spans.extend(matches)
    return _render(text or "", spans), found
