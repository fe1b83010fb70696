"""The incident index: one front door to a persistent Chroma collection (dense) and a BM25 index
(lexical) kept beside it, searched alone or fused.

Usage:
    index = IncidentIndex.open(ws.index_dir, "incidents", Embedder(), writable=True)
    summary = index.add(reports.frame, meta_cols=["occurred_at", "harm"], progress=callback)
    summary = index.add(open_reports(path), meta_cols=["harm"])  # streamed: never held whole
    hits = index.query("patient fell from bed", k=5, where={"harm": "none"}, since="2024-01-01")
    hits = index.similar("INC-0042", k=5)

On disk, `<root>/<collection>/` holds `chroma/` (the Chroma store, cosine space), `lexical.npz`,
`index.json` (model, fields, counts; for people) and `write.lock`.

Consistency of the two sides: Chroma is the store of record. Before its first change a writer
creates `lexical.stale`; it edits the BM25 term counts in memory as it writes each report to Chroma,
and after all changes saves them atomically and only then deletes the marker. So whenever the marker
is absent the saved BM25 index matches Chroma; after a kill the marker stays, and the next open
rebuilds the BM25 index from the Chroma documents.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from incident_lens.errors import UserError
from retrieval.changes import FrameChunks, IndexSummary, Plan, plan_changes, report_metadata, survey
from retrieval.chroma_ef import IncidentLensEmbeddingFunction
from retrieval.embedder import Embedder
from retrieval.filters import DATE_KEY, RESERVED_KEYS, parse_bound, where_fields
from retrieval.fusion import reciprocal_rank_fusion
from retrieval.hits import Hit, Record
from retrieval.lexical import LexicalIndex
from retrieval.memory import release_freed_memory
from retrieval.snippets import best_snippet

MODES = ("dense", "lexical", "hybrid")
DEFAULT_MODE = "hybrid"
# Rows planned, sorted by length and embedded together (written every few batches, so a kill loses
# at most one write). Padding to the longest text of a batch cost more token work than one sort of
# all 63,766 VAERS narratives: 7.4 % at 512 rows, 2.4 % at 2,048, 0.9 % at 8,192.
CHUNK_ROWS = 8192
# Documents read from Chroma per page when the BM25 index is rebuilt after a kill (memory grows with the page).
LEXICAL_PAGE = 1000
# Each side contributes this many candidates (at least) to the fusion.
FUSION_DEPTH = 50
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]$")

Progress = Callable[[int, int], None]


def recorded_model_path(root: Path, collection: str) -> Path | None:
    """The embedding model directory an existing index was built with, if it is still there."""
    manifest = Path(root) / collection / "index.json"
    try:
        path = json.loads(manifest.read_text(encoding="utf-8"))["embedding"]["path"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Path(path) if Path(path).is_dir() else None


def check_collection_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise UserError(f"--collection {name!r}: use 3-512 letters, digits, '.', '_' or '-', starting and ending with a letter or digit")
    return name


class IncidentIndex:
    """Dense + lexical search over one collection of reports. Open with `IncidentIndex.open`."""

    def __init__(self, root: Path, collection: str, embedder: Embedder | None, writable: bool):
        self.root = Path(root)
        self.collection_name = check_collection_name(collection)
        self.dir = self.root / collection
        self.writable = writable
        self._embedder = embedder
        self._lock = None
        self._lexical: LexicalIndex | None = None
        self._manifest = self._read_manifest()
        if writable:
            self._acquire_lock()
        try:
            self._collection = self._open_collection()
        except BaseException:
            self.close()
            raise

    @classmethod
    def open(cls, root: Path, collection: str = "incidents", embedder: Embedder | None = None, writable: bool = False) -> "IncidentIndex":
        """Open (or, when writable, create) a collection. Without an `embedder`, the model recorded
        with the index is used. A different model than the one that built it is a UserError."""
        return cls(root, collection, embedder, writable)

    # --- opening -------------------------------------------------------------------------------

    @property
    def _lock_path(self) -> Path:
        return self.dir / "write.lock"

    @property
    def _stale_path(self) -> Path:
        return self.dir / "lexical.stale"

    @property
    def _lexical_path(self) -> Path:
        return self.dir / "lexical.npz"

    @property
    def _manifest_path(self) -> Path:
        return self.dir / "index.json"

    def _acquire_lock(self) -> None:
        from filelock import FileLock, Timeout

        self.dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self._lock_path))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise UserError(f"index '{self.collection_name}' at {self.dir} is busy (another incident-lens process is writing it); wait for it to finish") from None
        self._lock = lock

    def close(self) -> None:
        """Release the write lock (also released when the process exits, even if killed)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> "IncidentIndex":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _read_manifest(self) -> dict:
        if not self._manifest_path.is_file():
            return {}
        try:
            return json.loads(self._manifest_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise UserError(f"{self._manifest_path}: damaged index description; rebuild the index with `incident-lens index` into a new --collection") from None

    def _write_manifest(self) -> None:
        from incident_lens.provenance import library_versions

        self._manifest.update(
            collection=self.collection_name,
            embedding=self.embedder.describe() | {"dim": int(self._collection.metadata["embedding_dim"])},
            count=self.count(),
            updated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            versions={k: v for k, v in library_versions().items() if k in ("python", "chromadb", "sentence-transformers", "torch", "scikit-learn", "incident-lens")},
        )
        tmp = self._manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._manifest, indent=2), encoding="utf-8")
        tmp.replace(self._manifest_path)

    def _client(self):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        return chromadb.PersistentClient(path=str(self.dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False))

    def _open_collection(self):
        exists = (self.dir / "chroma").is_dir()
        if not exists and not self.writable:
            raise UserError(f"no index '{self.collection_name}' in {self.root}; build it first with `incident-lens index FILE --collection {self.collection_name}`")
        client = self._client()
        self._max_batch = int(client.get_max_batch_size())
        names = {c.name if hasattr(c, "name") else str(c) for c in client.list_collections()}
        if self.collection_name in names:
            collection = client.get_collection(self.collection_name, embedding_function=None)
            self._check_model(collection.metadata or {})
            return client.get_collection(self.collection_name, embedding_function=IncidentLensEmbeddingFunction.from_embedder(self.embedder))
        if not self.writable:
            raise UserError(f"no index '{self.collection_name}' in {self.root}; build it first with `incident-lens index FILE --collection {self.collection_name}`")
        embedder = self.embedder
        collection = client.create_collection(
            self.collection_name,
            configuration={"hnsw": {"space": "cosine"}},
            embedding_function=IncidentLensEmbeddingFunction.from_embedder(embedder),
            metadata={"embedding_model": embedder.name, "embedding_fingerprint": embedder.fingerprint, "embedding_dim": embedder.dim, "created_by": "incident-lens"},
        )
        self._collection = collection
        self._write_manifest()
        return collection

    def _check_model(self, metadata: dict) -> None:
        recorded = metadata.get("embedding_fingerprint")
        if recorded is None:
            raise UserError(f"{self.dir}: collection '{self.collection_name}' was not written by incident-lens (no embedding model recorded); use another --collection")
        if self._embedder is None:
            self._embedder = self._recorded_embedder()
        if self._embedder.fingerprint != recorded:
            raise UserError(
                f"index '{self.collection_name}' at {self.dir} was built with embedding model {metadata.get('embedding_model')} "
                f"(fingerprint {recorded[:12]}), not {self._embedder.name} at {self._embedder.model_path} ({self._embedder.fingerprint[:12]}); "
                f"use the same --embedding-model, or index into a new --collection"
            )

    def _recorded_embedder(self) -> Embedder:
        recorded = self._manifest.get("embedding", {})
        path = recorded.get("path")
        if path and Path(path).is_dir():
            return Embedder(Path(path), backend=recorded.get("backend", "torch"))
        return Embedder()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = self._recorded_embedder()
        return self._embedder

    # --- the lexical side ----------------------------------------------------------------------

    @property
    def lexical(self) -> LexicalIndex:
        """The BM25 index, loaded if its saved copy matches Chroma, else rebuilt from Chroma."""
        if self._lexical is None:
            self._lexical = self._saved_lexical() or self._rebuild_lexical()
        return self._lexical

    def _saved_lexical(self) -> LexicalIndex | None:
        if self._stale_path.exists():
            return None
        saved = LexicalIndex.load(self._lexical_path)
        return saved if saved is not None and saved.state.get("count") == self.count() else None

    def _rebuild_lexical(self) -> LexicalIndex:
        """BM25 rebuilt from the Chroma documents. Saved (and the stale marker cleared) only under
        the write lock, so no writer can change Chroma between the read and the save; a reader
        that cannot take the lock keeps its rebuild in memory."""
        from filelock import FileLock, Timeout

        if self._lock is not None:
            return self._build_and_save_lexical()
        lock = FileLock(str(self._lock_path))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return self._build_lexical()
        try:
            return self._build_and_save_lexical()
        finally:
            lock.release()

    def _build_lexical(self) -> LexicalIndex:
        def pages():
            # Page by page, so the texts of the whole collection are never held at once.
            for offset in range(0, self.count(), LEXICAL_PAGE):
                page = self._collection.get(include=["documents"], limit=LEXICAL_PAGE, offset=offset)
                yield page["ids"], page["documents"]

        return LexicalIndex.build_paged(pages())

    def _build_and_save_lexical(self) -> LexicalIndex:
        return self._save_lexical(self._build_lexical())

    def _save_lexical(self, lexical: LexicalIndex) -> LexicalIndex:
        lexical.state = {"count": len(lexical)}
        lexical.save(self._lexical_path)
        self._stale_path.unlink(missing_ok=True)
        return lexical

    # --- writing -------------------------------------------------------------------------------

    def add(
        self,
        reports,
        meta_cols: list[str] | tuple[str, ...] = (),
        prune: bool = False,
        progress: Progress | None = None,
        date_col: str | None = None,
    ) -> IndexSummary:
        """Add or update `reports`: a frame with columns `id`, `text` and `meta_cols`, or a streamed
        source of such frames (anything with `chunks(columns, rows)`, like `open_reports`' result),
        read once to check it and once to write it, a chunk at a time.

        Unchanged rows cost a metadata read; rows whose text changed are re-embedded; rows whose
        metadata alone changed are updated without embedding. `prune` deletes ids not in `reports`.
        Metadata holds the `meta_cols` as strings; the date column (`date_col`, or the first
        meta column whose values are all dates) is also stored as YYYYMMDD for `since`/`until`.
        `progress(done, total)` is called as rows are done.
        """
        if not self.writable:
            raise UserError(f"index '{self.collection_name}' was opened read-only; open it with writable=True to add reports")
        start = time.perf_counter()
        meta_cols = list(dict.fromkeys(meta_cols))
        source = FrameChunks(reports) if isinstance(reports, pd.DataFrame) else reports
        found = survey(source, meta_cols, date_col, CHUNK_ROWS)
        counts = dict(added=0, updated=0, meta_updated=0, unchanged=0)
        total, done = found.reports, 0
        if progress:
            progress(0, total)
        # Loaded, or rebuilt from Chroma (and saved) after a killed run left the marker.
        lexical = self.lexical
        columns = list(dict.fromkeys([*meta_cols, *([found.date_col] if found.date_col else [])]))
        for chunk in source.chunks(columns, CHUNK_ROWS):
            chunk = chunk.loc[(chunk["text"].astype(str).str.strip() != "").to_numpy()]
            plan = self._write_chunk(chunk, meta_cols, found.date_col, found.dayfirst, progress, done, total)
            counts = {key: counts[key] + plan.counts[key] for key in counts}
            done += len(chunk)
        pruned = self._prune(found.ids) if prune else 0
        if self._stale_path.exists():
            # Chroma is the record: should the counts ever disagree with it, rebuild them from it.
            self._lexical = self._save_lexical(lexical) if len(lexical) == self.count() else self._build_and_save_lexical()
        self._manifest["meta_fields"] = list(dict.fromkeys([*self._manifest.get("meta_fields", []), *meta_cols]))
        if found.date_col:
            self._manifest.update(date_field=found.date_col, date_dayfirst=found.dayfirst)
        self._write_manifest()
        return IndexSummary(**counts, skipped=found.skipped, pruned=pruned, seconds=time.perf_counter() - start, total=self.count())

    def _mark_stale(self) -> None:
        if not self._stale_path.exists():
            self._stale_path.touch()

    def _write_chunk(self, chunk, meta_cols, date_col, dayfirst, progress, begin, total) -> Plan:
        ids = chunk["id"].astype(str).tolist()
        texts = chunk["text"].astype(str).tolist()
        plan = plan_changes(ids, report_metadata(chunk, meta_cols, date_col, dayfirst), self._stored_metadata(ids))
        if plan.embed:
            self._mark_stale()
        if plan.relabel:
            self._collection.update(ids=[ids[i] for i in plan.relabel], metadatas=[plan.wanted[i] for i in plan.relabel])
        done = begin + len(ids) - len(plan.embed)
        if progress:
            progress(done, total)
        # Longest first within the chunk: batches of similar length waste little on padding.
        order = sorted(plan.embed, key=lambda i: -len(texts[i]))
        step = min(self.embedder.batch_size * 4, self._max_batch)
        for s in range(0, len(order), step):
            part = order[s : s + step]
            vectors = self._encode_distinct([texts[i] for i in part])
            # Written before the next part is embedded, not beside it: on 2 cores a write thread
            # slowed torch's threads more than it overlapped (4,000 VAERS, one run each: 49.9 s vs 45.3 s).
            part_ids, part_texts = [ids[i] for i in part], [texts[i] for i in part]
            self._collection.upsert(ids=part_ids, embeddings=vectors, documents=part_texts, metadatas=[plan.wanted[i] for i in part])
            self.lexical.upsert(part_ids, part_texts)
            release_freed_memory()
            done += len(part)
            if progress:
                progress(done, total)
        return plan

    def _stored_metadata(self, ids: list[str]) -> dict[str, dict]:
        """id -> stored metadata of those `ids` already in the index (read in pieces: Chroma's
        SQLite refuses a query with too many ids)."""
        stored: dict[str, dict] = {}
        for begin in range(0, len(ids), self._max_batch):
            found = self._collection.get(ids=ids[begin : begin + self._max_batch], include=["metadatas"])
            stored.update(zip(found["ids"], found["metadatas"]))
        return stored

    def _encode_distinct(self, texts: list[str]) -> np.ndarray:
        """Each distinct text embedded once: templated reports repeat (2.2 % of VAERS narratives)."""
        distinct = list(dict.fromkeys(texts))
        vectors = self.embedder.encode(distinct)
        if len(distinct) == len(texts):
            return vectors
        row = {text: i for i, text in enumerate(distinct)}
        return vectors[[row[text] for text in texts]]

    def _prune(self, keep: set[str]) -> int:
        stale = [i for i in self.ids() if i not in keep]
        if stale:
            self._mark_stale()
            self.lexical.remove(stale)
        for begin in range(0, len(stale), self._max_batch):
            self._collection.delete(ids=stale[begin : begin + self._max_batch])
        return len(stale)

    # --- reading -------------------------------------------------------------------------------

    def count(self) -> int:
        return int(self._collection.count())

    def ids(self) -> list[str]:
        out: list[str] = []
        for offset in range(0, self.count(), self._max_batch):
            out.extend(self._collection.get(include=[], limit=self._max_batch, offset=offset)["ids"])
        return out

    @property
    def meta_fields(self) -> list[str]:
        return list(self._manifest.get("meta_fields", []))

    @property
    def date_field(self) -> str | None:
        return self._manifest.get("date_field")

    def get(self, ids: list[str]) -> list[Record]:
        """The stored reports for `ids`, in that order; ids not in the index are left out."""
        found = self._collection.get(ids=list(ids), include=["documents", "metadatas"]) if ids else {"ids": []}
        by_id = {i: Record(i, doc, _public(meta, self.meta_fields)) for i, doc, meta in zip(found["ids"], found.get("documents") or [], found.get("metadatas") or [])}
        return [by_id[i] for i in ids if i in by_id]

    def query(
        self,
        text: str,
        k: int = 10,
        where: dict | None = None,
        mode: str = DEFAULT_MODE,
        since: str | None = None,
        until: str | None = None,
        exclude_ids: set[str] | frozenset[str] | tuple = (),
        embedding: np.ndarray | None = None,
    ) -> list[Hit]:
        """The `k` reports nearest to `text`. `where` is a Chroma filter on metadata fields;
        `since`/`until` (YYYY-MM-DD, inclusive) filter on the index's date field. `embedding`
        is `text` already embedded by this index's embedder (callers that batch their queries)."""
        if not str(text or "").strip():
            raise UserError("empty query; give some words to search for")
        self._check_mode(mode)
        vector = np.asarray(embedding, dtype=np.float32) if embedding is not None else self.embedder.encode([text])[0]
        return self._search(text, vector, k, where, mode, since, until, set(exclude_ids))

    def similar(self, report_id: str, k: int = 10, where: dict | None = None, mode: str = DEFAULT_MODE,
                since: str | None = None, until: str | None = None, exclude_ids: set[str] | tuple = ()) -> list[Hit]:
        """The `k` reports nearest to an indexed report (itself excluded); its stored vector is the query."""
        self._check_mode(mode)
        found = self._collection.get(ids=[report_id], include=["documents", "embeddings"])
        if not found["ids"]:
            raise UserError(f"id '{report_id}' is not in index '{self.collection_name}' ({self.count()} reports); check the id or index its file first")
        vector = np.asarray(found["embeddings"][0], dtype=np.float32)
        return self._search(found["documents"][0], vector, k, where, mode, since, until, set(exclude_ids) | {report_id})

    def _check_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise UserError(f"--mode {mode!r}: choose one of {', '.join(MODES)}")

    def _full_where(self, where: dict | None, since: str | None, until: str | None) -> dict | None:
        unknown = sorted(where_fields(where) - set(self.meta_fields) - {DATE_KEY})
        if unknown:
            fields = ", ".join(self.meta_fields) or "none (index with --meta COL to filter on COL)"
            raise UserError(f"unknown filter field '{unknown[0]}'; fields in index '{self.collection_name}': {fields}")
        clauses = [where] if where else []
        low, high = parse_bound(since, "--since"), parse_bound(until, "--until")
        if (low or high) and not self.date_field:
            raise UserError(f"index '{self.collection_name}' has no date field for --since/--until; re-index with --meta DATECOL (or --date-col DATECOL)")
        if low:
            clauses.append({DATE_KEY: {"$gte": low}})
        if high:
            clauses.append({DATE_KEY: {"$lte": high}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def _search(self, text, vector, k, where, mode, since, until, exclude: set[str]) -> list[Hit]:
        if k < 1:
            raise UserError(f"-k {k}: must be at least 1")
        where = self._full_where(where, since, until)
        depth = max(FUSION_DEPTH, k) + len(exclude)
        dense = self._dense(vector, depth, where) if mode != "lexical" else []
        lexical = self._lexical_ranked(text, depth, where) if mode != "dense" else []
        if mode == "dense":
            ranked = dense
        elif mode == "lexical":
            ranked = lexical
        else:
            ranked = reciprocal_rank_fusion([[i for i, _ in dense], [i for i, _ in lexical]])
        ranked = [(i, s) for i, s in ranked if i not in exclude][:k]
        return self._hits(ranked, text, vector)

    def _dense(self, vector, depth: int, where: dict | None) -> list[tuple[str, float]]:
        # No count() first: it costs as much as the query, and Chroma caps n_results itself.
        result = self._collection.query(query_embeddings=[vector], n_results=depth, where=where, include=["distances"])
        return [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], result["distances"][0])]

    def _lexical_ranked(self, text: str, depth: int, where: dict | None) -> list[tuple[str, float]]:
        lexical = self.lexical
        allowed = None
        if where:
            keep = set(self._collection.get(where=where, include=[])["ids"])
            allowed = np.fromiter((i in keep for i in lexical.ids), dtype=bool, count=len(lexical.ids))
        return lexical.search(text, depth, allowed)

    def _hits(self, ranked: list[tuple[str, float]], text: str, vector) -> list[Hit]:
        if not ranked:
            return []
        ids = [i for i, _ in ranked]
        found = self._collection.get(ids=ids, include=["documents", "metadatas", "embeddings"])
        rows = {i: (doc, meta, emb) for i, doc, meta, emb in zip(found["ids"], found["documents"], found["metadatas"], found["embeddings"])}
        idf = self.lexical.idf_lookup()
        order = self.meta_fields
        hits = []
        for rank, (report_id, score) in enumerate(ranked, start=1):
            doc, meta, emb = rows[report_id]
            similarity = float(np.dot(np.asarray(emb, dtype=np.float32), vector))
            hits.append(Hit(rank, report_id, float(score), doc, _public(meta, order), best_snippet(doc, text, idf), similarity))
        return hits


def _public(meta: dict | None, order: list[str] = ()) -> dict:
    """Metadata without the index's own keys, in the order the fields were indexed."""
    meta = {k: v for k, v in (meta or {}).items() if k not in RESERVED_KEYS}
    return {k: meta[k] for k in order if k in meta} | meta
