"""The theme summariser: a short name and a few claims for a theme, written from its representative
reports, each claim with quotes checked against those reports (see programs.evidence).

Usage: `prediction = ThemeSummariser()(reports=["text 1", "text 2", "text 3"])`; `prediction.name`,
`prediction.claims` (JSON-ready: text, evidence, evidence_verified, unsupported_evidence and, per quote,
the numbers of the reports it was found in), `prediction.evidence_verified`. A quote counts when it is a
span of at least one of the reports shown (the same rule as report evidence: 3+ words, not prompt text).
Predictor name `summarise_theme` is the key in saved JSON files.
"""

from __future__ import annotations

import dspy
import pydantic

from programs.adapter import ADAPTER
from programs.evidence import REASONS, prompt_text, rejection
from programs.signatures import SUMMARY_QUOTE_CHARS, bounded_list, bounded_text

THEME_NAME_CHARS = 60
CLAIM_CHARS = 240
MAX_CLAIMS = 3
CLAIM_QUOTES = 2
THEME_SUMMARY_MAX_TOKENS = 768

ThemeName = bounded_text("ThemeName", THEME_NAME_CHARS)
ClaimText = bounded_text("ClaimText", CLAIM_CHARS)
ClaimQuote = bounded_text("ClaimQuote", SUMMARY_QUOTE_CHARS)
ClaimQuotes = bounded_list("ClaimQuotes", ClaimQuote, CLAIM_QUOTES)


class Claim(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    text: ClaimText
    evidence: ClaimQuotes


Claims = bounded_list("Claims", Claim, MAX_CLAIMS, min_items=1)


class SummariseTheme(dspy.Signature):
    """Name and summarise a theme: a group of patient-safety reports about the same kind of problem, shown by
    a few representative reports.

    Give the theme a short name a reviewer would use, and up to three claims about what the reports have in
    common (what goes wrong, where or with what, the effect on patients). Back every claim with evidence:
    passages copied word for word from the reports. Say only what the reports say."""

    reports: str = dspy.InputField(desc="the theme's representative reports, numbered")
    name: ThemeName = dspy.OutputField()
    claims: Claims = dspy.OutputField()


def format_reports(reports: list[str]) -> str:
    return "\n\n".join(f"[{n}] {text}" for n, text in enumerate(reports, start=1))


def quote_sources(quote: str, reports: list[str], fixed: str) -> tuple[list[int], str | None]:
    """The numbers (1-based) of the reports `quote` is a span of, and, when none, why it was rejected
    (the reason for the report it came closest in: prompt text before too short before not found)."""
    reasons = [rejection(quote, text, fixed) for text in reports]
    found = [n for n, reason in enumerate(reasons, start=1) if reason is None]
    if found:
        return found, None
    return [], min(reasons, key=REASONS.index) if reasons else REASONS[1]


class ThemeSummariser(dspy.Module):
    def __init__(self):
        super().__init__()
        self.summarise_theme = dspy.Predict(SummariseTheme, max_tokens=THEME_SUMMARY_MAX_TOKENS)

    def forward(self, reports: list[str]) -> dspy.Prediction:
        with dspy.context(adapter=ADAPTER):
            prediction = self.summarise_theme(reports=format_reports(reports))
        fixed = prompt_text(self.summarise_theme.signature, self.summarise_theme.demos, list(Claim.model_fields))
        claims, unsupported, quotes = [], [], 0
        for claim in prediction.claims:
            sources, rejected, reasons = [], [], []
            for quote in claim.evidence:
                found, reason = quote_sources(str(quote), reports, fixed)
                sources.append(found)
                if reason:
                    rejected.append(str(quote))
                    reasons.append(reason)
            claims.append({"text": str(claim.text), "evidence": [str(q) for q in claim.evidence], "sources": sources,
                           "evidence_verified": bool(claim.evidence) and not rejected,
                           "unsupported_evidence": rejected, "unsupported_reasons": reasons})
            unsupported += rejected
            quotes += len(claim.evidence)
        return dspy.Prediction(name=str(prediction.name), claims=claims, evidence_verified=quotes > 0 and not unsupported,
                               unsupported_evidence=unsupported)
