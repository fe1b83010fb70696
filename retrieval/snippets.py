"""The passage of a report that best matches a query, for showing next to a hit.

Usage: `best_snippet(text, "enoxaparin dose", idf)` -> "...given enoxaparin 40 mg twice..."
The text is cut into windows of whole sentences; the window holding the most query-term weight
(BM25 idf of each distinct term it contains) wins. Cheap enough to run on every hit; a hit found
only by meaning, sharing no word with the query, shows its opening.
"""

from __future__ import annotations

import re
from typing import Callable

from retrieval.lexical import tokenize

WIDTH = 240
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")


def _windows(text: str, width: int) -> list[str]:
    sentences = [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]
    windows, current = [], ""
    for sentence in sentences:
        if current and len(current) + 1 + len(sentence) > width:
            windows.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        windows.append(current)
    return windows or [text.strip()]


def _shorten(passage: str, width: int) -> str:
    passage = " ".join(passage.split())
    if len(passage) <= width:
        return passage
    cut = passage[:width].rsplit(" ", 1)[0]
    return cut + " …"


def best_snippet(text: str, query: str, idf: Callable[[str], float], width: int = WIDTH) -> str:
    terms = set(tokenize(query))
    windows = _windows(text, width)
    best, best_score = windows[0], 0.0
    for window in windows:
        score = sum(idf(t) for t in terms & set(tokenize(window)))
        if score > best_score:
            best, best_score = window, score
    prefix = "… " if best is not windows[0] else ""
    return prefix + _shorten(best, width)
