"""Lexical side of the index: BM25 over word tokens, as one sparse matrix saved in one file.

Usage: `lex = LexicalIndex.build(ids, texts)`; `lex.upsert(ids, texts)`, `lex.remove(ids)`;
`lex.search("enoxaparin", k=10)` -> [(id, score)]; `lex.save(path)` (atomic) / `LexicalIndex.load(path)`.
What is kept (and saved) are each document's raw term counts, so a new or changed report costs
only its own tokens, never a pass over the others; see `index.py` for how it stays in step with
Chroma. Scoring is Lucene's BM25; a query costs one sparse column slice and a sum.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Iterable

import numpy as np
from scipy import sparse

# Lucene/Elasticsearch defaults.
K1 = 1.2
B = 0.75
# 2: raw term counts (1 held BM25 weights, and is rebuilt from Chroma on open).
FORMAT = 2
_TOKEN = re.compile(r"(?u)\b\w+\b")
# Lucene's English stop words: in a long query they would otherwise outvote the content words.
STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these they this to was will with".split()
)


def _singular(token: str) -> str:
    """Lucene's EnglishMinimalStemmer: plural to singular only ("falls" -> "fall", "injuries" -> "injury")."""
    if len(token) < 3 or token[-1] != "s" or token[-2] in "us":
        return token
    if token[-2] == "e":
        if len(token) > 3 and token[-3] == "i" and token[-4] not in "ae":
            return token[:-3] + "y"
        if token[-3] in "iaoe":
            return token
    return token[:-1]


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens without stop words, plurals made singular; single letters and digits
    are kept ("vitamin k", "type 2")."""
    return [_singular(t) for t in _TOKEN.findall(text.lower()) if t not in STOP_WORDS]


class LexicalIndex:
    """BM25 over the raw term counts of each document. Counts, not weights, are kept: the weights
    depend on every document (through idf and the mean length), so they are derived again, in one
    vectorised pass, when a search first needs them after an edit."""

    def __init__(self, ids: list[str], vocabulary: dict[str, int], counts: sparse.csr_matrix, state: dict | None = None):
        self._ids = list(ids)
        self._vocabulary = vocabulary  # term -> column
        self._counts = counts  # documents x terms, how often each term occurs in each document
        self.state = dict(state or {})  # what it was built from (see IncidentIndex), checked on open
        # Edits not yet applied to the matrix: appended blocks of rows (with their ids) and dropped rows.
        self._pending: list[tuple[list[str], sparse.csr_matrix]] = []
        self._dropped: set[int] = set()
        self._row_of: dict[str, int] | None = None
        self._bm25: tuple[sparse.csc_matrix, np.ndarray] | None = None

    @classmethod
    def empty(cls, state: dict | None = None) -> "LexicalIndex":
        return cls([], {}, sparse.csr_matrix((0, 0), dtype=np.float32), state)

    @classmethod
    def build(cls, ids: list[str], texts: list[str], state: dict | None = None) -> "LexicalIndex":
        return cls.build_paged([(list(ids), list(texts))], state)

    @classmethod
    def build_paged(cls, pages: Iterable[tuple[list[str], list[str]]], state: dict | None = None) -> "LexicalIndex":
        """Built from (ids, texts) pages read one at a time: only the counts are kept, not the texts."""
        lexical = cls.empty(state)
        for page_ids, page_texts in pages:
            lexical.upsert(page_ids, page_texts)
        lexical._settle()
        return lexical

    # --- editing ---------------------------------------------------------------------------------

    def upsert(self, ids: list[str], texts: list[str]) -> None:
        """Add these documents; an id already present has its old text replaced."""
        self.remove(ids)
        row_of = self._rows()
        first = len(row_of) + len(self._dropped)  # rows so far, live or dropped
        for offset, doc_id in enumerate(ids):
            row_of[doc_id] = first + offset
        self._pending.append((list(ids), self._count(texts)))
        self._bm25 = None

    def remove(self, ids: Iterable[str]) -> None:
        """Drop these documents (ids not present are ignored)."""
        row_of = self._rows()
        for doc_id in ids:
            row = row_of.pop(doc_id, None)
            if row is not None:
                self._dropped.add(row)
                self._bm25 = None

    def _rows(self) -> dict[str, int]:
        if self._row_of is None:
            self._row_of = {doc_id: row for row, doc_id in enumerate(self._ids)}
        return self._row_of

    def _count(self, texts: list[str]) -> sparse.csr_matrix:
        """One row of term counts per text; a term never seen before gets a new column."""
        vocabulary = self._vocabulary
        indices: list[int] = []
        data: list[int] = []
        indptr = [0]
        for text in texts:
            counts = Counter(vocabulary.setdefault(term, len(vocabulary)) for term in tokenize(text))
            indices.extend(counts.keys())
            data.extend(counts.values())
            indptr.append(len(indices))
        return sparse.csr_matrix(
            (np.asarray(data, dtype=np.float32), np.asarray(indices, dtype=np.int32), np.asarray(indptr, dtype=np.int64)),
            shape=(len(texts), len(vocabulary)),
        )

    def _settle(self) -> None:
        """Apply the pending edits: one count matrix, without dropped rows or terms no document has."""
        if not self._pending and not self._dropped:
            return
        n_terms = len(self._vocabulary)
        blocks = [_widen(block, n_terms) for block in [self._counts, *(block for _, block in self._pending)]]
        ids = self._ids + [doc_id for page_ids, _ in self._pending for doc_id in page_ids]
        counts = sparse.vstack(blocks, format="csr", dtype=np.float32)
        if self._dropped:
            keep = np.ones(len(ids), dtype=bool)
            keep[list(self._dropped)] = False
            counts = counts[keep]
            ids = [doc_id for doc_id, kept in zip(ids, keep) if kept]
        used = np.bincount(counts.indices, minlength=n_terms) > 0
        if not used.all():
            column = (np.cumsum(used) - 1).astype(np.int32)
            counts = sparse.csr_matrix((counts.data, column[counts.indices], counts.indptr), shape=(len(ids), int(used.sum())))
            self._vocabulary = {term: int(column[col]) for term, col in self._vocabulary.items() if used[col]}
        self._ids, self._counts = ids, counts
        self._pending, self._dropped, self._row_of, self._bm25 = [], set(), None, None

    # --- searching -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._rows())

    @property
    def ids(self) -> list[str]:
        """Document ids, in row order."""
        self._settle()
        return self._ids

    @property
    def vocabulary(self) -> dict[str, int]:
        """term -> column of `counts` and `weights`."""
        self._settle()
        return self._vocabulary

    @property
    def counts(self) -> sparse.csr_matrix:
        self._settle()
        return self._counts

    @property
    def weights(self) -> sparse.csc_matrix:
        """documents x terms, the BM25 weight of each term in each document."""
        return self._weights_and_idf()[0]

    @property
    def idf(self) -> np.ndarray:
        return self._weights_and_idf()[1]

    def _weights_and_idf(self) -> tuple[sparse.csc_matrix, np.ndarray]:
        if self._bm25 is None:
            tf = self.counts
            n_docs = tf.shape[0]
            lengths = np.asarray(tf.sum(axis=1)).ravel()
            avg_length = float(lengths.mean()) if n_docs else 0.0
            df = np.bincount(tf.indices, minlength=tf.shape[1]).astype(np.float32)
            idf = np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
            # Per non-zero: tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avg_len)), times idf.
            row_norm = K1 * (1 - B + B * lengths / (avg_length or 1.0))
            per_entry_norm = np.repeat(row_norm, np.diff(tf.indptr))
            data = tf.data * (K1 + 1) / (tf.data + per_entry_norm) * idf[tf.indices]
            weights = sparse.csr_matrix((data.astype(np.float32), tf.indices, tf.indptr), shape=tf.shape).tocsc()
            self._bm25 = (weights, idf)
        return self._bm25

    def term_ids(self, text: str) -> np.ndarray:
        return np.array(sorted({self.vocabulary[t] for t in tokenize(text) if t in self.vocabulary}), dtype=np.int64)

    def idf_lookup(self):
        """A function term -> idf (0 for terms the index has never seen), for snippet scoring."""
        vocabulary, idf = self.vocabulary, self.idf
        return lambda term: float(idf[vocabulary[term]]) if term in vocabulary else 0.0

    def scores(self, text: str) -> np.ndarray:
        """BM25 score of every document for `text` (each distinct query term counted once)."""
        terms = self.term_ids(text)
        if len(self.ids) == 0 or len(terms) == 0:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self.weights[:, terms].sum(axis=1)).ravel()

    def search(self, text: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[str, float]]:
        """The best `k` (id, score) pairs with a positive score; `allowed` is a boolean row mask."""
        scores = self.scores(text)
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        positive = np.flatnonzero(scores > 0)
        if len(positive) > k:
            positive = positive[np.argpartition(-scores[positive], k - 1)[:k]]
        # Ties broken by id so results do not depend on insertion order.
        order = sorted(positive, key=lambda i: (-scores[i], self.ids[i]))
        return [(self.ids[i], float(scores[i])) for i in order]

    def save(self, path: Path) -> None:
        """One .npz written beside and renamed over the old one: a reader sees old or new, never half."""
        path = Path(path)
        counts = self.counts
        terms = [""] * len(self.vocabulary)
        for term, col in self.vocabulary.items():
            terms[col] = term
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as handle:
            np.savez(
                handle,
                format=np.array(FORMAT),
                data=counts.data, indices=counts.indices, indptr=counts.indptr, shape=np.array(counts.shape),
                ids=_json_bytes(self.ids), terms=_json_bytes(terms), state=_json_bytes(self.state),
            )
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "LexicalIndex | None":
        """The saved index, or None if it is missing, from another format, or unreadable."""
        try:
            with np.load(Path(path), allow_pickle=False) as npz:
                if int(npz["format"]) != FORMAT:
                    return None
                counts = sparse.csr_matrix((npz["data"], npz["indices"], npz["indptr"]), shape=tuple(npz["shape"]))
                terms = _from_json_bytes(npz["terms"])
                return cls(_from_json_bytes(npz["ids"]), {t: i for i, t in enumerate(terms)}, counts, _from_json_bytes(npz["state"]))
        except (OSError, KeyError, ValueError):
            # A missing or damaged file is rebuilt from Chroma by the caller; never fatal.
            return None


def _widen(block: sparse.csr_matrix, n_terms: int) -> sparse.csr_matrix:
    """The same rows with `n_terms` columns (terms added after the block was counted occur in none of them)."""
    return sparse.csr_matrix((block.data, block.indices, block.indptr), shape=(block.shape[0], n_terms))


def _json_bytes(value) -> np.ndarray:
    # Stored as bytes, not a numpy string array: no pickle, no fixed-width padding.
    return np.frombuffer(json.dumps(value).encode("utf-8"), dtype=np.uint8)


def _from_json_bytes(array: np.ndarray):
    return json.loads(array.tobytes().decode("utf-8"))
