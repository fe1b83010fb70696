"""The incident index: one front door to a persistent Chroma collection (dense) and a BM25 index
(lexical) kept beside it, searched alone or fused.

Usage:
    index = IncidentIndex.open(ws.index_dir, "incidents", Embedder(), writable=True)
    summary = index.add(reports.frame, meta_cols=["occurred_at", "harm"], progress=callback)
    summary = index.add(open_reports(path), meta_cols=["harm"])  # streamed: never held whole
    hits = index.query("patient fell from bed", k=5, where={"harm": "none"}, since="2024-01-01")
    hits = index.similar("INC-0042", k=5)
    stored = index.stored_vectors(where={"harm": "none"}, since="2024-01-01", texts=True)  # no embedding

On disk, `<root>/<collection>/` holds `chroma/` (the Chroma store, cosine space), `lexical.npz`,
`index.json` (model, fields, counts; for people) and `write.lock`.

Consistency of the two sides: Chroma is the store of record. Before its first change a writer
creates `lexical.stale`; it edits the BM25 term counts in memory as it writes each report to Chroma,
and after all changes saves them atomically and only then deletes the marker. So whenever the marker
is absent the saved BM25 index matches Chroma; after a kill the marker stays, and the next open
rebuilds the BM25 index from the Chroma documents.

The parts: `manifest.py` (write lock, `index.json`), `store.py` (the Chroma collection), `lexical.py`
(BM25), `search.py` (modes, filters, fusion, hits); this class composes them and keeps the two sides in step.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from retrieval.changes import FrameChunks, IndexSummary, Plan, plan_changes, report_metadata, survey
from retrieval.embedder import Embedder
from retrieval.errors import RetrievalError
from retrieval.filters import DATE_KEY, HASH_KEY
from retrieval.hits import Hit, Record, StoredVectors
from retrieval.lexical import LexicalIndex
from retrieval.manifest import read_manifest, recorded_embedder, recorded_model_path, take_write_lock, try_write_lock, write_manifest
from retrieval.memory import release_freed_memory
from retrieval.search import DEFAULT_MODE, MODES, check_mode, full_where, search
from retrieval.store import Store, check_collection_name, public_metadata

# MODES, DEFAULT_MODE, IndexSummary and recorded_model_path are imported from here by callers.
__all__ = ["IncidentIndex", "IndexSummary", "MODES", "DEFAULT_MODE", "recorded_model_path"]

# Rows planned, sorted by length and embedded together (written every few batches, so a kill loses
# at most one write). Padding to the longest text of a batch cost more token work than one sort of
# all 63,766 VAERS narratives: 7.4 % at 512 rows, 2.4 % at 2,048, 0.9 % at 8,192.
CHUNK_ROWS = 8192
# Reports read from Chroma per page by `stored_vectors` (384 floats each: about 8 MB a page).
VECTOR_PAGE = 5000
# Documents read from Chroma per page when the BM25 index is rebuilt after a kill (memory grows with the page).
LEXICAL_PAGE = 1000

Progress = Callable[[int, int], None]


class IncidentIndex:
    """Dense + lexical search over one collection of reports. Open with `IncidentIndex.open`."""

    def __init__(self, root: Path, collection: str, embedder: Embedder | None, writable: bool):
        self.root = Path(root)
        self.collection_name = check_collection_name(collection)
        self.dir = self.root / collection
        self.writable = writable
        self._lock = None
        self._lexical: LexicalIndex | None = None
        self._manifest = read_manifest(self.dir)
        if writable:
            self._lock = take_write_lock(self.dir, self.collection_name)
        try:
            self._store = Store.open(self.root, self.collection_name, embedder, writable, lambda: recorded_embedder(self._manifest))
            if self._store.created:
                self._write_manifest()
        except BaseException:
            self.close()
            raise

    @classmethod
    def open(cls, root: Path, collection: str = "incidents", embedder: Embedder | None = None, writable: bool = False) -> "IncidentIndex":
        """Open (or, when writable, create) a collection. Without an `embedder`, the model recorded
        with the index is used. A different model than the one that built it is a RetrievalError."""
        return cls(root, collection, embedder, writable)

    def close(self) -> None:
        """Release the write lock (also released when the process exits, even if killed)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> "IncidentIndex":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def embedder(self) -> Embedder:
        return self._store.embedder

    @property
    def _collection(self):
        return self._store.collection

    @property
    def _stale_path(self) -> Path:
        return self.dir / "lexical.stale"

    @property
    def _lexical_path(self) -> Path:
        return self.dir / "lexical.npz"

    def _write_manifest(self) -> None:
        write_manifest(self.dir, self._manifest, collection=self.collection_name,
                       embedding=self.embedder.describe() | {"dim": self._store.dim}, count=self.count())

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
        if self._lock is not None:
            return self._build_and_save_lexical()
        lock = try_write_lock(self.dir)
        if lock is None:
            return self._build_lexical()
        try:
            return self._build_and_save_lexical()
        finally:
            lock.release()

    def _build_lexical(self) -> LexicalIndex:
        return LexicalIndex.build_paged(self._store.documents(LEXICAL_PAGE))

    def _build_and_save_lexical(self) -> LexicalIndex:
        return self._save_lexical(self._build_lexical())

    def _save_lexical(self, lexical: LexicalIndex) -> LexicalIndex:
        lexical.state = {"count": len(lexical)}
        lexical.save(self._lexical_path)
        self._stale_path.unlink(missing_ok=True)
        return lexical

    def _mark_stale(self) -> None:
        if not self._stale_path.exists():
            self._stale_path.touch()

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
            raise RetrievalError(f"index '{self.collection_name}' was opened read-only; open it with writable=True to add reports")
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

    def _write_chunk(self, chunk, meta_cols, date_col, dayfirst, progress, begin, total) -> Plan:
        ids = chunk["id"].astype(str).tolist()
        texts = chunk["text"].astype(str).tolist()
        plan = plan_changes(ids, report_metadata(chunk, meta_cols, date_col, dayfirst), self._store.stored_metadata(ids))
        if plan.embed:
            self._mark_stale()
        if plan.relabel:
            self._store.relabel([ids[i] for i in plan.relabel], [plan.wanted[i] for i in plan.relabel])
        done = begin + len(ids) - len(plan.embed)
        if progress:
            progress(done, total)
        # Longest first within the chunk: batches of similar length waste little on padding.
        order = sorted(plan.embed, key=lambda i: -len(texts[i]))
        step = min(self.embedder.batch_size * 4, self._store.max_batch)
        for s in range(0, len(order), step):
            part = order[s : s + step]
            vectors = self._encode_distinct([texts[i] for i in part])
            # Written before the next part is embedded, not beside it: on 2 cores a write thread
            # slowed torch's threads more than it overlapped (4,000 VAERS, one run each: 49.9 s vs 45.3 s).
            part_ids, part_texts = [ids[i] for i in part], [texts[i] for i in part]
            self._store.upsert(part_ids, vectors, part_texts, [plan.wanted[i] for i in part])
            self.lexical.upsert(part_ids, part_texts)
            release_freed_memory()
            done += len(part)
            if progress:
                progress(done, total)
        return plan

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
        self._store.delete(stale)
        return len(stale)

    # --- reading -------------------------------------------------------------------------------

    def count(self) -> int:
        return self._store.count()

    def ids(self) -> list[str]:
        return self._store.ids()

    @property
    def meta_fields(self) -> list[str]:
        return list(self._manifest.get("meta_fields", []))

    @property
    def date_field(self) -> str | None:
        return self._manifest.get("date_field")

    def metadata_pages(self, page: int = 2000):
        """Every report's metadata, a page of dicts at a time (e.g. to list a field's values)."""
        return self._store.metadatas(page)

    def get(self, ids: list[str]) -> list[Record]:
        """The stored reports for `ids`, in that order; ids not in the index are left out."""
        return self._store.records(ids, self.meta_fields)

    def stored_vectors(self, where: dict | None = None, since: str | None = None, until: str | None = None,
                       texts: bool = False, vectors: bool = True) -> StoredVectors:
        """Every report matching the filter with its stored vector (nothing is embedded again), its date
        key and text hash; `texts` adds the documents; `vectors=False` leaves the vectors out (an empty
        (n, 0) array: a cheap read of ids, dates and hashes). Same filter language as `query`."""
        where = full_where(where, since, until, self.meta_fields, self.date_field, self.collection_name)
        include = [*(["embeddings"] if vectors else []), "metadatas", *(["documents"] if texts else [])]
        ids, parts, dates, hashes, metas, docs = [], [], [], [], [], []
        for found in self._store.stored(where, include, min(VECTOR_PAGE, self._store.max_batch)):
            ids += found["ids"]
            if vectors:
                parts.append(np.asarray(found["embeddings"], dtype=np.float32))
            for meta in found["metadatas"]:
                meta = meta or {}
                dates.append(int(meta.get(DATE_KEY) or 0))
                hashes.append(meta.get(HASH_KEY))
                metas.append(public_metadata(meta, self.meta_fields))
            if texts:
                docs += found["documents"]
        if not vectors:
            matrix = np.zeros((len(ids), 0), dtype=np.float32)
        else:
            matrix = np.vstack(parts) if parts else np.zeros((0, self._store.dim), dtype=np.float32)
        return StoredVectors(ids, matrix, np.asarray(dates, dtype=np.int64), hashes, metas, docs if texts else None)

    def vectors_of(self, ids: list[str]) -> StoredVectors:
        """`stored_vectors` for the given ids (those in the index; no texts)."""
        found = self._store.vectors(list(ids))
        kept = [i for i in ids if i in found]
        vectors = np.asarray([found[i][1] for i in kept], dtype=np.float32).reshape(len(kept), self._store.dim)
        metas = [found[i][0] or {} for i in kept]
        return StoredVectors(kept, vectors, np.asarray([int(m.get(DATE_KEY) or 0) for m in metas], dtype=np.int64),
                             [m.get(HASH_KEY) for m in metas], [public_metadata(m, self.meta_fields) for m in metas])

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
            raise RetrievalError("empty query; give some words to search for")
        check_mode(mode)
        vector = np.asarray(embedding, dtype=np.float32) if embedding is not None else self.embedder.encode([text])[0]
        return self._search(text, vector, k, where, mode, since, until, set(exclude_ids))

    def similar(self, report_id: str, k: int = 10, where: dict | None = None, mode: str = DEFAULT_MODE,
                since: str | None = None, until: str | None = None, exclude_ids: set[str] | tuple = ()) -> list[Hit]:
        """The `k` reports nearest to an indexed report (itself excluded); its stored vector is the query."""
        check_mode(mode)
        found = self._store.text_and_vector(report_id)
        if found is None:
            raise RetrievalError(f"id '{report_id}' is not in index '{self.collection_name}' ({self.count()} reports); check the id or add its report to the index")
        text, vector = found[0], np.asarray(found[1], dtype=np.float32)
        return self._search(text, vector, k, where, mode, since, until, set(exclude_ids) | {report_id})

    def _search(self, text, vector, k, where, mode, since, until, exclude: set[str]) -> list[Hit]:
        return search(self._store, lambda: self.lexical, text, vector, k=k, where=where, mode=mode, since=since, until=until,
                      exclude=exclude, fields=self.meta_fields, date_field=self.date_field)
