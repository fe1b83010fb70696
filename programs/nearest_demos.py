"""A labeller whose few-shot demos are chosen per report: the k most similar labelled reports.

Usage: `NearestDemos(program, pool, k, find)` where `find(report, k)` gives the positions in `pool`
of the k labelled reports nearest to `report` (the caller owns the index behind it).
DSPy's KNNFewShot re-bootstraps on every call and cannot be saved; this keeps the labelled pool,
so `pool_state()` can be saved with the program and the index rebuilt from it on load.
"""

from __future__ import annotations

from typing import Callable

import dspy

from programs.labellers import RagLabeller


class NearestDemos(dspy.Module):
    def __init__(self, program, pool: list, k: int, find: Callable[[str, int], list[int]]):
        super().__init__()
        self.program = program
        self.pool = list(pool)
        self.k = k
        self.find = find

    def forward(self, report: str, report_id: str | None = None):
        chosen = [self.pool[position] for position in self.find(report, self.k)]
        # A copy per call: the demos differ per report, and a shared program must not change under a thread.
        program = self.program.deepcopy()
        for predictor in program.predictors():
            predictor.demos = chosen
        return program(report=report, report_id=report_id) if isinstance(program, RagLabeller) else program(report=report)

    def pool_state(self) -> dict:
        return {"k": self.k, "pool": [dict(e.toDict()) for e in self.pool]}

    def close(self) -> None:
        """Closes the index behind `find`, if it has anything to close."""
        close = getattr(self.find, "close", None)
        if close is not None:
            close()
