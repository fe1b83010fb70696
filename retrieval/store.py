"""The Chroma side of the index, the store of record: one persistent collection (cosine space) of
report vectors, texts and metadata, opened only with the embedding model that built it.

Usage: `store = Store.open(root, "incidents", embedder, writable=True, default_embedder=Embedder)`;
`store.upsert(ids, vectors, texts, metadatas)`, `store.records(ids)`, `store.nearest(vector, 10, where)`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable, Iterator

from retrieval.chroma_ef import IncidentLensEmbeddingFunction
from retrieval.embedder import Embedder
from retrieval.errors import IndexNotFound, RetrievalError
from retrieval.filters import RESERVED_KEYS
from retrieval.hits import Record

# Filters whose matching ids are kept in memory (a reviewer re-uses a few); any write clears them.
WHERE_CACHE_SIZE = 16
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]$")


def check_collection_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise RetrievalError(f"collection name {name!r}: use 3-512 letters, digits, '.', '_' or '-', starting and ending with a letter or digit")
    return name


class Store:
    """One collection under `<root>/<name>/chroma/`. Open with `Store.open`; `created` tells
    whether that open made it."""

    def __init__(self, collection, max_batch: int, embedder: Embedder, created: bool = False):
        self.collection = collection
        self.max_batch = max_batch  # the most ids Chroma takes in one call
        self.embedder = embedder
        self.created = created
        self._where_cache: dict[str, frozenset[str]] = {}

    @classmethod
    def open(cls, root: Path, name: str, embedder: Embedder | None, writable: bool, default_embedder: Callable[[], Embedder]) -> "Store":
        """Open the collection (or, when `writable`, create it). Without an `embedder`,
        `default_embedder()` gives one, called only once the collection is known to exist or is
        about to be made. A model other than the one that built the collection is a RetrievalError."""
        directory = Path(root) / name
        if not (directory / "chroma").is_dir() and not writable:
            raise IndexNotFound(f"no index '{name}' in {root}")
        client = _client(directory)
        max_batch = int(client.get_max_batch_size())
        names = {c.name if hasattr(c, "name") else str(c) for c in client.list_collections()}
        if name in names:
            found = client.get_collection(name, embedding_function=None)
            embedder = _check_model(found.metadata or {}, embedder, default_embedder, directory, name)
            collection = client.get_collection(name, embedding_function=IncidentLensEmbeddingFunction.from_embedder(embedder))
            return cls(collection, max_batch, embedder)
        if not writable:
            raise IndexNotFound(f"no index '{name}' in {root}")
        embedder = embedder if embedder is not None else default_embedder()
        collection = client.create_collection(
            name,
            configuration={"hnsw": {"space": "cosine"}},
            embedding_function=IncidentLensEmbeddingFunction.from_embedder(embedder),
            metadata={"embedding_model": embedder.name, "embedding_fingerprint": embedder.fingerprint, "embedding_dim": embedder.dim, "created_by": "incident-lens"},
        )
        return cls(collection, max_batch, embedder, created=True)

    @property
    def name(self) -> str:
        return self.collection.name

    @property
    def dim(self) -> int:
        return int(self.collection.metadata["embedding_dim"])

    # --- reading -------------------------------------------------------------------------------

    def count(self) -> int:
        return int(self.collection.count())

    def ids(self) -> list[str]:
        out: list[str] = []
        for offset in range(0, self.count(), self.max_batch):
            out.extend(self.collection.get(include=[], limit=self.max_batch, offset=offset)["ids"])
        return out

    def documents(self, page: int) -> Iterator[tuple[list[str], list[str]]]:
        """(ids, texts) of every report, `page` at a time, so the whole collection's texts are never held at once."""
        for offset in range(0, self.count(), page):
            found = self.collection.get(include=["documents"], limit=page, offset=offset)
            yield found["ids"], found["documents"]

    def metadatas(self, page: int) -> Iterator[list[dict]]:
        """Every report's metadata (the index's own keys removed), `page` reports at a time."""
        for offset in range(0, self.count(), page):
            yield [public_metadata(meta) for meta in self.collection.get(include=["metadatas"], limit=page, offset=offset)["metadatas"]]

    def stored_metadata(self, ids: list[str]) -> dict[str, dict]:
        """id -> stored metadata of those `ids` already in the store (read in pieces: Chroma's
        SQLite refuses a query with too many ids)."""
        stored: dict[str, dict] = {}
        for begin in range(0, len(ids), self.max_batch):
            found = self.collection.get(ids=ids[begin : begin + self.max_batch], include=["metadatas"])
            stored.update(zip(found["ids"], found["metadatas"]))
        return stored

    def records(self, ids: list[str], order: list[str] = ()) -> list[Record]:
        """The stored reports for `ids`, in that order; ids not in the store are left out."""
        found = self.collection.get(ids=list(ids), include=["documents", "metadatas"]) if ids else {"ids": []}
        by_id = {i: Record(i, doc, public_metadata(meta, order)) for i, doc, meta in zip(found["ids"], found.get("documents") or [], found.get("metadatas") or [])}
        return [by_id[i] for i in ids if i in by_id]

    def text_and_vector(self, report_id: str) -> tuple[str, list[float]] | None:
        found = self.collection.get(ids=[report_id], include=["documents", "embeddings"])
        return (found["documents"][0], found["embeddings"][0]) if found["ids"] else None

    def rows(self, ids: list[str]) -> dict[str, tuple[str, dict, list[float]]]:
        """id -> (text, metadata, vector) for those `ids` in the store."""
        found = self.collection.get(ids=ids, include=["documents", "metadatas", "embeddings"])
        return {i: (doc, meta, emb) for i, doc, meta, emb in zip(found["ids"], found["documents"], found["metadatas"], found["embeddings"])}

    def stored(self, where: dict | None, include: list[str], page: int) -> Iterator[dict]:
        """Every stored report matching `where`, `page` at a time: Chroma's answer dicts (`ids` and
        the `include`d fields: any of embeddings, metadatas, documents)."""
        offset = 0
        while True:
            found = self.collection.get(where=where, include=include, limit=page, offset=offset)
            if not found["ids"]:
                return
            yield found
            offset += len(found["ids"])

    def vectors(self, ids: list[str]) -> dict[str, tuple[dict, list[float]]]:
        """id -> (metadata, vector) for those `ids` in the store (read in pieces, like `stored_metadata`)."""
        out: dict[str, tuple[dict, list[float]]] = {}
        for begin in range(0, len(ids), self.max_batch):
            found = self.collection.get(ids=ids[begin : begin + self.max_batch], include=["metadatas", "embeddings"])
            out.update((i, (meta, emb)) for i, meta, emb in zip(found["ids"], found["metadatas"], found["embeddings"]))
        return out

    def nearest(self, vector, n: int, where: dict | None) -> list[tuple[str, float]]:
        """Up to `n` (id, cosine similarity) nearest to `vector`, best first."""
        # No count() first: it costs as much as the query, and Chroma caps n_results itself.
        result = self.collection.query(query_embeddings=[vector], n_results=n, where=where, include=["distances"])
        return [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], result["distances"][0])]

    def ids_where(self, where: dict) -> frozenset[str]:
        """Ids of the reports matching `where` (Chroma's filter over all of them: hundreds of ms at 64k
        reports for a broad filter, so the last few filters' answers are kept until the next write)."""
        key = json.dumps(where, sort_keys=True)
        if key not in self._where_cache:
            if len(self._where_cache) >= WHERE_CACHE_SIZE:
                self._where_cache.pop(next(iter(self._where_cache)))
            self._where_cache[key] = frozenset(self.collection.get(where=where, include=[])["ids"])
        return self._where_cache[key]

    # --- writing -------------------------------------------------------------------------------

    def relabel(self, ids: list[str], metadatas: list[dict]) -> None:
        self._where_cache.clear()
        self.collection.update(ids=ids, metadatas=metadatas)

    def upsert(self, ids: list[str], vectors, texts: list[str], metadatas: list[dict]) -> None:
        self._where_cache.clear()
        self.collection.upsert(ids=ids, embeddings=vectors, documents=texts, metadatas=metadatas)

    def delete(self, ids: list[str]) -> None:
        self._where_cache.clear()
        for begin in range(0, len(ids), self.max_batch):
            self.collection.delete(ids=ids[begin : begin + self.max_batch])


def public_metadata(meta: dict | None, order: list[str] = ()) -> dict:
    """Metadata without the index's own keys, in the order the fields were indexed."""
    meta = {k: v for k, v in (meta or {}).items() if k not in RESERVED_KEYS}
    return {k: meta[k] for k in order if k in meta} | meta


def _client(directory: Path):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb.PersistentClient(path=str(directory / "chroma"), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False))


def _check_model(metadata: dict, embedder: Embedder | None, default_embedder: Callable[[], Embedder], directory: Path, name: str) -> Embedder:
    """The embedder to use with a collection whose metadata is `metadata`: `embedder`, or else
    `default_embedder()`, if it is the model that built the collection."""
    recorded = metadata.get("embedding_fingerprint")
    if recorded is None:
        raise RetrievalError(f"{directory}: collection '{name}' was not written by incident-lens (no embedding model recorded); use another collection")
    if embedder is None:
        embedder = default_embedder()
    if embedder.fingerprint != recorded:
        raise RetrievalError(
            f"index '{name}' at {directory} was built with embedding model {metadata.get('embedding_model')} "
            f"(fingerprint {recorded[:12]}), not {embedder.name} at {embedder.model_path} ({embedder.fingerprint[:12]}); "
            f"use the same embedding model, or index into a new collection"
        )
    return embedder
