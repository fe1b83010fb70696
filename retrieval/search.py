"""Answering one query against both sides of the index: the mode (dense, lexical or hybrid with
reciprocal rank fusion), the metadata filter with its date bounds, and the ranked hits with snippets.

Usage: `hits = search(store, lambda: lexical, text, vector, k=5, where=None, mode="hybrid",
since=None, until=None, exclude=set(), fields=["harm"], date_field="occurred_at")`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from retrieval.errors import RetrievalError
from retrieval.filters import DATE_KEY, parse_bound, where_fields
from retrieval.fusion import reciprocal_rank_fusion
from retrieval.hits import Hit
from retrieval.lexical import LexicalIndex
from retrieval.snippets import best_snippet
from retrieval.store import Store, public_metadata

MODES = ("dense", "lexical", "hybrid")
DEFAULT_MODE = "hybrid"
# Each side contributes this many candidates (at least) to the fusion.
FUSION_DEPTH = 50
# A filter keeping at least this share of the reports is applied after an unfiltered nearest-neighbour
# query (asking for proportionally more), which is much faster than Chroma's filtered query on a large index.
POST_FILTER_SHARE = 0.2


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise RetrievalError(f"search mode {mode!r}: choose one of {', '.join(MODES)}")


def search(
    store: Store,
    lexical: Callable[[], LexicalIndex],
    text: str,
    vector: np.ndarray,
    *,
    k: int,
    where: dict | None,
    mode: str,
    since: str | None,
    until: str | None,
    exclude: set[str],
    fields: list[str],
    date_field: str | None,
) -> list[Hit]:
    """The `k` best hits for `text` (embedded as `vector`) outside `exclude`. `lexical()` gives
    the BM25 index, asked for only when this search needs it; `fields` and `date_field` are
    what the index can filter on."""
    if k < 1:
        raise RetrievalError(f"k = {k}: must be at least 1")
    where = full_where(where, since, until, fields, date_field, store.name)
    depth = max(FUSION_DEPTH, k) + len(exclude)
    keep = store.ids_where(where) if where else None
    dense = _dense(store, vector, depth, where, keep) if mode != "lexical" else []
    ranked_lexically = _lexical_ranked(lexical(), text, depth, keep) if mode != "dense" else []
    if mode == "dense":
        ranked = dense
    elif mode == "lexical":
        ranked = ranked_lexically
    else:
        ranked = reciprocal_rank_fusion([[i for i, _ in dense], [i for i, _ in ranked_lexically]])
    ranked = [(i, s) for i, s in ranked if i not in exclude][:k]
    return _hits(store, lexical, ranked, text, vector, fields)


def full_where(where: dict | None, since: str | None, until: str | None, fields: list[str], date_field: str | None, collection: str) -> dict | None:
    """`where` with the `since`/`until` bounds (YYYY-MM-DD, inclusive) added as clauses on the date key."""
    unknown = sorted(where_fields(where) - set(fields) - {DATE_KEY})
    if unknown:
        listed = ", ".join(fields) or "none (no metadata columns were indexed)"
        raise RetrievalError(f"unknown filter field '{unknown[0]}'; fields in index '{collection}': {listed}")
    clauses = [where] if where else []
    low, high = parse_bound(since, "since"), parse_bound(until, "until")
    if (low or high) and not date_field:
        raise RetrievalError(f"index '{collection}' has no date field to filter by date; re-index it with a date column")
    if low:
        clauses.append({DATE_KEY: {"$gte": low}})
    if high:
        clauses.append({DATE_KEY: {"$lte": high}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _dense(store: Store, vector, depth: int, where: dict | None, keep: frozenset[str] | None) -> list[tuple[str, float]]:
    """The `depth` nearest reports matching `where` (`keep`: the ids that do)."""
    if where is None:
        return store.nearest(vector, depth, None)
    total = store.count()
    share = len(keep) / total if total else 0.0
    if share >= POST_FILTER_SHARE:
        wide = store.nearest(vector, min(total, int(2 * depth / share) + 1), None)
        found = [(i, s) for i, s in wide if i in keep][:depth]
        if len(found) >= min(depth, len(keep)):
            return found
    return store.nearest(vector, depth, where)


def _lexical_ranked(lexical: LexicalIndex, text: str, depth: int, keep: frozenset[str] | None) -> list[tuple[str, float]]:
    # BM25 knows no metadata: the filter is applied by Chroma and handed over as a mask.
    allowed = None if keep is None else np.fromiter((i in keep for i in lexical.ids), dtype=bool, count=len(lexical.ids))
    return lexical.search(text, depth, allowed)


def _hits(store: Store, lexical: Callable[[], LexicalIndex], ranked: list[tuple[str, float]], text: str, vector, fields: list[str]) -> list[Hit]:
    if not ranked:
        return []
    rows = store.rows([i for i, _ in ranked])
    idf = lexical().idf_lookup()
    hits = []
    for rank, (report_id, score) in enumerate(ranked, start=1):
        doc, meta, emb = rows[report_id]
        similarity = float(np.dot(np.asarray(emb, dtype=np.float32), vector))
        hits.append(Hit(rank, report_id, float(score), doc, public_metadata(meta, fields), best_snippet(doc, text, idf), similarity))
    return hits
