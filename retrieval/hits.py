"""Typed search results: `Hit` (one ranked neighbour) and `Record` (one stored report).

Usage: `hit.to_dict()` / `Hit.from_dict(d)`; both are plain, JSON-ready records.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Hit:
    """One neighbour of a query. `score` is what ranked it in the chosen mode (cosine similarity
    for dense, BM25 for lexical, reciprocal-rank fusion for hybrid); `similarity` is always the
    cosine similarity to the query, so hits from any mode can be compared on one scale."""

    rank: int
    id: str
    score: float
    text: str
    metadata: dict = field(default_factory=dict)
    snippet: str = ""
    similarity: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Hit":
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class Record:
    """A report as stored in the index: its id, text and metadata (reserved `_` keys removed)."""

    id: str
    text: str
    metadata: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Record":
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass
class StoredVectors:
    """Reports as the index stores them, for work on the vectors themselves (themes): ids, one row of
    `vectors` each (float32, as embedded: unit length), their dates as YYYYMMDD ints (0 when none),
    text hashes, public metadata and, when asked for, the texts. In the store's order."""

    ids: list
    vectors: object  # numpy array (n, dim)
    dates: object  # numpy int array (n,)
    hashes: list
    metadata: list
    texts: list | None = None

    def __len__(self) -> int:
        return len(self.ids)
