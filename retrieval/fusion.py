"""Reciprocal rank fusion of several rankings (Cormack et al., 2009).

Usage: `reciprocal_rank_fusion([["a", "b"], ["b", "c"]])` -> [("b", 0.0325...), ("a", ...), ("c", ...)].
Each list contributes 1 / (K + rank) for each id it ranks; scores from different scales
(cosine, BM25) never have to be compared.
"""

from __future__ import annotations

# The constant from the original paper; it damps the weight of the very top ranks.
K = 60


def reciprocal_rank_fusion(rankings: list[list[str]], k: int = K) -> list[tuple[str, float]]:
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    # Ties broken by id so the order is the same on every run.
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))
