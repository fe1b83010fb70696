"""Checking evidence quotes against the report they claim to quote.

Usage: `check_quotes(["patient found on floor"], report_text)` -> EvidenceCheck(verified, unsupported).
A quote is supported when, after folding case and collapsing whitespace, it occurs in the report.
Evidence counts as verified only when there is at least one quote and every quote is supported:
an empty list proves nothing, and one invented quote spoils the set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Quote marks and trailing punctuation a model adds around a quote without changing it.
_EDGE = " \t\n\"'`“”‘’«».,;:"


def normalise(text: str) -> str:
    return " ".join(str(text).casefold().split())


def is_supported(quote: str, source: str) -> bool:
    needle = normalise(quote).strip(_EDGE)
    return bool(needle) and needle in normalise(source)


@dataclass(frozen=True)
class EvidenceCheck:
    verified: bool
    unsupported: list[str] = field(default_factory=list)


def check_quotes(quotes, source: str) -> EvidenceCheck:
    quotes = [str(q) for q in (quotes or [])]
    unsupported = [q for q in quotes if not is_supported(q, source)]
    return EvidenceCheck(verified=bool(quotes) and not unsupported, unsupported=unsupported)
