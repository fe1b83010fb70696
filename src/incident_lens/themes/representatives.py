"""Representative reports of a theme: close to its centroid and unlike each other (maximal marginal
relevance), so a reviewer sees the theme's range rather than five near-copies.

Usage: `ids = representatives(vectors, member_rows, centroid, ids, n=5)`.
"""

from __future__ import annotations

import numpy as np

# How many of the members nearest the centroid are candidates, and the weight of closeness to the
# centroid against difference from those already chosen.
CANDIDATES = 50
RELEVANCE = 0.6


def representatives(vectors: np.ndarray, rows: np.ndarray, centroid: np.ndarray, ids: list[str], n: int = 5) -> list[str]:
    """Ids of up to `n` members (rows of `vectors`) chosen by MMR around `centroid`; repeatable
    (ties go to the smaller id: rows are in id order)."""
    rows = np.asarray(rows)
    if not len(rows):
        return []
    closeness = vectors[rows] @ centroid
    order = np.lexsort((rows, -closeness))[:CANDIDATES]
    pool, close = rows[order], closeness[order]
    chosen = [0]
    while len(chosen) < min(n, len(pool)):
        picked = vectors[pool[chosen]]
        redundancy = (vectors[pool] @ picked.T).max(axis=1)
        score = RELEVANCE * close - (1 - RELEVANCE) * redundancy
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
    return [ids[pool[i]] for i in chosen]
