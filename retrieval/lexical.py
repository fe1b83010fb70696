"""Lexical side of the index: BM25 over word tokens, as one sparse matrix saved in one file.

Usage: `lex = LexicalIndex.build(ids, texts)`; `lex.search("enoxaparin", k=10)` -> [(id, score)];
`lex.save(path)` (atomic) / `LexicalIndex.load(path)`.
It is rebuilt from the Chroma documents, never edited in place: see `index.py` for how the two
stay in step. Scoring is Lucene's BM25; a query costs one sparse column slice and a sum.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
from scipy import sparse

# Lucene/Elasticsearch defaults.
K1 = 1.2
B = 0.75
FORMAT = 1
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


@dataclass
class LexicalIndex:
    ids: list[str]
    vocabulary: dict[str, int]
    weights: sparse.csc_matrix  # documents x terms, BM25 weight of each term in each document
    idf: np.ndarray
    state: dict  # what it was built from (see IncidentIndex), checked on open

    @classmethod
    def build(cls, ids: list[str], texts: list[str], state: dict | None = None) -> "LexicalIndex":
        lexical = cls.build_paged([(list(ids), list(texts))])
        lexical.state = state or {}
        return lexical

    @classmethod
    def build_paged(cls, pages: Iterable[tuple[list[str], list[str]]]) -> "LexicalIndex":
        """Built from (ids, texts) pages read one at a time: only the counts are kept, not the texts."""
        from sklearn.feature_extraction.text import CountVectorizer

        ids: list[str] = []

        def texts():
            for page_ids, page_texts in pages:
                ids.extend(page_ids)
                yield from page_texts

        vectorizer = CountVectorizer(tokenizer=tokenize, lowercase=False, token_pattern=None, dtype=np.float32)
        try:
            tf = vectorizer.fit_transform(texts()).tocsr()
        except ValueError as exc:
            if "empty vocabulary" not in str(exc):
                raise
            # No documents, or none with a word that is not a stop word: nothing can match.
            return cls(ids, {}, sparse.csc_matrix((len(ids), 0), dtype=np.float32), np.zeros(0, np.float32), {})
        n_docs = tf.shape[0]
        lengths = np.asarray(tf.sum(axis=1)).ravel()
        avg_length = float(lengths.mean()) or 1.0
        df = np.bincount(tf.indices, minlength=tf.shape[1]).astype(np.float32)
        idf = np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        # Per non-zero: tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avg_len)), times idf.
        row_norm = K1 * (1 - B + B * lengths / avg_length)
        per_entry_norm = np.repeat(row_norm, np.diff(tf.indptr))
        data = tf.data * (K1 + 1) / (tf.data + per_entry_norm) * idf[tf.indices]
        weights = sparse.csr_matrix((data.astype(np.float32), tf.indices, tf.indptr), shape=tf.shape).tocsc()
        vocabulary = {term: int(col) for term, col in vectorizer.vocabulary_.items()}
        return cls(ids, vocabulary, weights, idf, {})

    def __len__(self) -> int:
        return len(self.ids)

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
        terms = [""] * len(self.vocabulary)
        for term, col in self.vocabulary.items():
            terms[col] = term
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as handle:
            np.savez(
                handle,
                format=np.array(FORMAT),
                data=self.weights.data, indices=self.weights.indices, indptr=self.weights.indptr,
                shape=np.array(self.weights.shape), idf=self.idf,
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
                weights = sparse.csc_matrix((npz["data"], npz["indices"], npz["indptr"]), shape=tuple(npz["shape"]))
                terms = _from_json_bytes(npz["terms"])
                return cls(_from_json_bytes(npz["ids"]), {t: i for i, t in enumerate(terms)}, weights, npz["idf"], _from_json_bytes(npz["state"]))
        except (OSError, KeyError, ValueError):
            # A missing or damaged file is rebuilt from Chroma by the caller; never fatal.
            return None


def _json_bytes(value) -> np.ndarray:
    # Stored as bytes, not a numpy string array: no pickle, no fixed-width padding.
    return np.frombuffer(json.dumps(value).encode("utf-8"), dtype=np.uint8)


def _from_json_bytes(array: np.ndarray):
    return json.loads(array.tobytes().decode("utf-8"))
