"""The report summariser: five short parts for a reviewer, each with evidence checked against the report
and the prompt's fixed text (see programs.evidence).

Usage: `prediction = Summariser()(report=text)`; `prediction.what_happened.text`, `.evidence_verified`,
`prediction.parts` (a JSON-ready dict). Predictor name `summarise` is the key in saved JSON files.
"""

from __future__ import annotations

import dspy

from programs.adapter import ADAPTER
from programs.evidence import check_quotes, prompt_text
from programs.signatures import SUMMARY_PARTS, SummariseReport, SummaryPart

# Five parts of at most ~430 characters each (text + quotes) fit well inside this.
SUMMARY_MAX_TOKENS = 1536


class Summariser(dspy.Module):
    def __init__(self):
        super().__init__()
        self.summarise = dspy.Predict(SummariseReport, max_tokens=SUMMARY_MAX_TOKENS)

    def forward(self, report: str) -> dspy.Prediction:
        with dspy.context(adapter=ADAPTER):
            prediction = self.summarise(report=report)
        # The parts' own field names ("text", "evidence") are in the prompt's output schema too.
        fixed = prompt_text(self.summarise.signature, self.summarise.demos, list(SummaryPart.model_fields))
        parts, unsupported, reasons, quotes = {}, [], [], 0
        for name in SUMMARY_PARTS:
            part = prediction[name]
            check = check_quotes(part.evidence, report, fixed)
            parts[name] = {"text": str(part.text), "evidence": [str(q) for q in part.evidence],
                           "evidence_verified": check.verified, "unsupported_evidence": check.unsupported,
                           "unsupported_reasons": check.reasons}
            unsupported += check.unsupported
            reasons += check.reasons
            quotes += len(part.evidence)
        return dspy.Prediction(**{name: prediction[name] for name in SUMMARY_PARTS}, parts=parts,
                               evidence_verified=quotes > 0 and not unsupported, unsupported_evidence=unsupported,
                               unsupported_reasons=reasons)
