"""Labelled reports held in memory for nearest-neighbour lookups: the knn baseline, RAG over a gold
train split, and the knn optimizer's demo pool.

Usage:
    pool = LabelledPool(embedder).add(ids, texts, labels)
    pool.nearest("patient fell in bay", k=4, exclude_id="INC-7")   # -> [(Neighbour, labels), ...]
    retrieve = TrainRetriever(task, train_gold, embedder)            # a RAG program's retriever
    retrieve.tally.record(), retrieve.tally.warning("the train split")  # what it handed out
Why not Chroma: a gold set is a few hundred vectors, which a matrix product searches exactly in
microseconds, and report text written to a temporary Chroma store outside the workspace would outlive
a killed run. Nothing here touches the disk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from programs import WorkedExample
from programs.nearest_demos import NearestDemos


@dataclass(frozen=True)
class Neighbour:
    id: str
    text: str
    similarity: float  # cosine


class LabelledPool:
    def __init__(self, embedder):
        self.embedder = embedder
        self.ids: list[str] = []
        self.texts: list[str] = []
        self.labels: list = []
        self._vectors = np.zeros((0, 0), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, ids: list[str], texts: list[str], labels: list) -> "LabelledPool":
        ids, texts, labels = list(ids), list(texts), list(labels)
        if not ids:
            return self
        vectors = _unit_rows(np.asarray(self.embedder.encode(texts), dtype=np.float32))
        self._vectors = vectors if not self.ids else np.vstack([self._vectors, vectors])
        self.ids += ids
        self.texts += texts
        self.labels += labels
        return self

    def nearest(self, text: str, k: int, exclude_id: str | None = None) -> list[tuple[Neighbour, object]]:
        """The k most similar labelled reports (never `exclude_id`), most similar first; ties by position."""
        if not self.ids or k <= 0:
            return []
        query = _unit_rows(np.asarray(self.embedder.encode([text]), dtype=np.float32))[0]
        similarity = self._vectors @ query
        order = np.argsort(-similarity, kind="stable")
        out = []
        for position in order:
            if self.ids[position] == exclude_id:
                continue
            out.append((Neighbour(self.ids[position], self.texts[position], float(similarity[position])),
                        self.labels[position]))
            if len(out) == k:
                break
        return out

    def close(self) -> None:
        """Nothing to release (kept so a pool can stand where a closable index did)."""


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


class ExampleTally:
    """What a RAG retriever handed out over a run: examples per report, reports given fewer than k (or
    none), and the distinct neighbours it could not use. Without it a run that says `rag` could show no
    examples at all and nothing would say so."""

    def __init__(self):
        self.k = 0  # the most examples asked for
        self.reports = self.examples = self.fewer_than_k = self.none = 0
        self.unlabelled: set[str] = set()
        self.label_not_in_task: set[str] = set()
        self._last: tuple | None = None  # (report id, k, examples) of the latest retrieval

    def found(self, k: int, n: int, report_id: str | None = None) -> None:
        """`n` examples for a report that asked for `k`; a retry of the same report (the retrieval just
        before, same id) replaces that one rather than counting the report twice."""
        if report_id is not None and self._last is not None and self._last[0] == report_id:
            self._add(self._last[1], self._last[2], -1)
        self._add(k, n, 1)
        self._last = (report_id, k, n)
        self.k = max(self.k, k)

    def _add(self, k: int, n: int, sign: int) -> None:
        self.reports += sign
        self.examples += sign * n
        self.fewer_than_k += sign * int(n < k)
        self.none += sign * int(n == 0)

    def record(self) -> dict:
        """For a manifest or meta file (counts only)."""
        return {"k": self.k, "reports": self.reports, "examples": self.examples,
                "examples_per_report": round(self.examples / self.reports, 2) if self.reports else None,
                "fewer_than_k": self.fewer_than_k, "none": self.none,
                "unusable_neighbours": {"unlabelled": len(self.unlabelled), "label_not_in_task": len(self.label_not_in_task)}}

    def warning(self, source: str) -> str | None:
        """One line (counts only, no report text) when anything fell short, else None."""
        parts = []
        skipped = len(self.unlabelled) + len(self.label_not_in_task)
        if skipped:
            parts.append(f"{skipped} neighbour(s) in {source} could not be shown as examples ({len(self.unlabelled)} "
                         f"unlabelled, {len(self.label_not_in_task)} with a label not in the task)")
        if self.fewer_than_k:
            parts.append(f"{self.fewer_than_k} of {self.reports} report(s) got fewer than {self.k} examples "
                         f"({self.none} got none)")
        return "rag: " + "; ".join(parts) if parts else None


class TrainRetriever:
    """The RAG programs' retriever over a gold train split: nearest labelled reports as worked examples.
    Gold labels are valid by construction, so only a small split gives fewer than k (see `tally`)."""

    def __init__(self, task, gold, embedder):
        self.task = task
        self.pool = LabelledPool(embedder).add(gold.ids, gold.texts, gold.labels)
        self.tally = ExampleTally()

    def __call__(self, text: str, k: int, exclude_id: str | None = None) -> list[WorkedExample]:
        examples = [WorkedExample(neighbour.text, list(labels) if self.task.kind == "multi" else labels)
                    for neighbour, labels in self.pool.nearest(text, k, exclude_id)]
        self.tally.found(k, len(examples), exclude_id)
        return examples

    def close(self) -> None:
        self.pool.close()


class PoolFinder:
    """`NearestDemos`' `find`: positions in the knn optimizer's demo pool of the reports nearest to a report."""

    def __init__(self, pool: list, embedder):
        self._pool = LabelledPool(embedder).add([str(i) for i in range(len(pool))], [e.report for e in pool],
                                                list(range(len(pool))))

    def __call__(self, report: str, k: int) -> list[int]:
        return [position for _, position in self._pool.nearest(report, k)]

    def close(self) -> None:
        self._pool.close()


def nearest_demos(program, pool: list, k: int, embedder) -> NearestDemos:
    return NearestDemos(program, pool, k, PoolFinder(pool, embedder))
