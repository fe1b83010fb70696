"""Accuracy against coverage: label the most confident share of reports automatically, send the rest to people.

Usage: `accuracy_at_coverage(correct, confidence)` -> {"80": {"accuracy": 0.93, "n": 80, "min_confidence": 0.71}, ...}
At coverage c the ceil(c * n) reports with the highest confidence are kept (ties broken by file order)
and their accuracy (row correct: the whole label set, or every finding status) is reported with the
lowest confidence kept, the threshold a team would set. None when the method gives no confidence.
"""

from __future__ import annotations

import math

import numpy as np

COVERAGE_LEVELS = (0.8, 0.9, 0.95)


def accuracy_at_coverage(correct, confidence, levels=COVERAGE_LEVELS) -> dict | None:
    correct = np.asarray(correct, dtype=bool)
    if confidence is None or len(correct) == 0 or any(c is None for c in confidence):
        return None
    confidence = np.asarray(confidence, dtype=float)
    order = np.argsort(-confidence, kind="stable")
    out = {}
    for level in levels:
        keep = order[:max(1, math.ceil(level * len(correct)))]
        out[f"{round(level * 100)}"] = {"accuracy": float(correct[keep].mean()), "n": int(len(keep)),
                                        "min_confidence": float(confidence[keep].min())}
    return out
