"""The reports a theme fit works on, read from the index once: ids sorted (so the input order of the
file never matters), stored vectors, dates and text hashes; texts only when asked for.

Usage: `corpus = load_corpus(index, where=None, since=None, until=None, texts=True)`; `corpus.dates_known`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from incident_lens.errors import UserError


@dataclass
class Corpus:
    ids: list[str]
    vectors: np.ndarray  # (n, dim) float32, unit length
    dates: np.ndarray  # (n,) YYYYMMDD ints, 0 where the report has no date
    hashes: list[str]
    texts: list[str] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def dates_known(self) -> np.ndarray:
        return self.dates > 0


def sorted_corpus(stored) -> Corpus:
    """A `retrieval.hits.StoredVectors` as a Corpus in id order."""
    order = sorted(range(len(stored.ids)), key=stored.ids.__getitem__)
    return Corpus(
        ids=[stored.ids[i] for i in order],
        vectors=np.ascontiguousarray(stored.vectors[order], dtype=np.float32),
        dates=np.asarray(stored.dates, dtype=np.int64)[order] if len(order) else np.zeros(0, dtype=np.int64),
        hashes=[stored.hashes[i] for i in order],
        texts=[stored.texts[i] for i in order] if stored.texts is not None else None,
    )


def load_corpus(index, where: dict | None = None, since: str | None = None, until: str | None = None,
                texts: bool = True, describe: str = "") -> Corpus:
    """The selected reports of `index`; an empty selection is a one-line error naming the filter."""
    corpus = sorted_corpus(index.stored_vectors(where=where, since=since, until=until, texts=texts))
    if not len(corpus):
        what = f" match {describe}" if describe else " are indexed"
        raise UserError(f"no reports{what} in index '{index.collection_name}' ({index.count()} reports); "
                        "loosen the filter (--where/--since/--until) or index reports first")
    return corpus
