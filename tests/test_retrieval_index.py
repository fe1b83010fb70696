"""The incident index through the real stack: MiniLM embeddings, Chroma on disk, BM25 beside it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from retrieval.embedder import Embedder, default_model_path
from retrieval.errors import IndexNotFound, RetrievalError
from retrieval.index import IncidentIndex
from retrieval.lexical import LexicalIndex

REPORTS = [
    ("INC-1", "2024-01-05", "Falls", "none", "Patient found on the floor beside the bed at night; unwitnessed fall, no injury."),
    ("INC-2", "2024-02-10", "Medication", "low", "Enoxaparin 40 mg given twice in error; the evening dose had already been given."),
    ("INC-3", "2024-03-01", "Infection", "moderate", "Hickman line site red and swollen; blood cultures taken and line removed."),
    ("INC-4", "", "Identification", "none", "Wrong patient wristband applied at admission, noticed before any treatment."),
    ("INC-5", "2024-04-20", "Falls", "low", "Elderly patient slipped in the bathroom and bruised her hip."),
    ("INC-6", "2024-05-02", "Medication", "moderate", "Insulin omitted before breakfast; blood glucose rose to 22 mmol/L."),
]
META = ["occurred_at", "category", "harm"]


def frame(rows=REPORTS) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["id", *META, "text"])


class CountingEmbedder(Embedder):
    """The real embedder, counting the texts it is asked to embed."""

    def __init__(self, base: Embedder):
        self.__dict__.update(base.__dict__)
        self.embedded: list[str] = []

    def encode(self, texts):
        self.embedded.extend(texts)
        return super().encode(texts)


@pytest.fixture
def counting(embedder):
    return CountingEmbedder(embedder)


@pytest.fixture
def index(tmp_path, counting):
    with IncidentIndex.open(tmp_path / "index", "incidents", counting, writable=True) as opened:
        opened.add(frame(), meta_cols=META)
        counting.embedded.clear()
        yield opened


def ids(hits):
    return [h.id for h in hits]


def test_reindexing_the_same_reports_embeds_nothing(index, counting):
    summary = index.add(frame(), meta_cols=META)
    assert (summary.added, summary.updated, summary.unchanged) == (0, 0, len(REPORTS))
    assert counting.embedded == []
    assert index.count() == len(REPORTS)
    assert "6 unchanged" in str(summary)


def test_changed_text_is_re_embedded_and_searchable_both_ways(index, counting):
    rows = list(REPORTS)
    rows[2] = rows[2][:4] + ("Central venous catheter occluded; alteplase instilled to clear it.",)
    summary = index.add(frame(rows), meta_cols=META)
    assert (summary.added, summary.updated, summary.unchanged) == (0, 1, len(REPORTS) - 1)
    assert counting.embedded == [rows[2][4]]
    assert ids(index.query("alteplase", k=1, mode="lexical")) == ["INC-3"]
    assert index.query("Hickman", k=5, mode="lexical") == []
    assert ids(index.query("catheter blocked", k=1, mode="dense")) == ["INC-3"]


def test_repeated_text_is_embedded_once_and_stored_for_each_id(index, counting):
    import numpy as np

    copies = [(f"COPY-{n}", "2024-06-01", "Falls", "none", "Patient rolled out of bed onto a crash mat; no harm.") for n in range(3)]
    summary = index.add(frame([*REPORTS, *copies]), meta_cols=META)
    assert summary.added == 3 and counting.embedded == [copies[0][-1]]
    stored = index._collection.get(ids=[c[0] for c in copies], include=["embeddings"])
    assert len(stored["ids"]) == 3 and np.allclose(stored["embeddings"][0], stored["embeddings"][2])
    assert set(ids(index.similar("COPY-0", k=2))) == {"COPY-1", "COPY-2"}


def test_metadata_change_updates_without_embedding(index, counting):
    rows = list(REPORTS)
    rows[0] = ("INC-1", "2024-01-05", "Falls", "low", rows[0][4])
    summary = index.add(frame(rows), meta_cols=META)
    assert (summary.meta_updated, summary.updated, summary.added) == (1, 0, 0)
    assert counting.embedded == []
    assert index.get(["INC-1"])[0].metadata["harm"] == "low"


def test_prune_removes_ids_no_longer_in_the_file(index):
    summary = index.add(frame(REPORTS[:4]), meta_cols=META, prune=True)
    assert summary.pruned == 2 and index.count() == 4
    assert set(index.ids()) == {"INC-1", "INC-2", "INC-3", "INC-4"}
    assert "INC-5" not in ids(index.query("slipped in the bathroom", k=10, mode="lexical"))
    assert "INC-5" not in ids(index.query("slipped in the bathroom", k=10, mode="dense"))


def test_progress_reports_every_row(tmp_path, embedder):
    calls = []
    with IncidentIndex.open(tmp_path / "index", "p-test", embedder, writable=True) as opened:
        opened.add(frame(), meta_cols=META, progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, 6) and calls[-1] == (6, 6)


def test_rare_exact_term_found_lexically_and_by_hybrid(index):
    assert ids(index.query("enoxaparin", k=1, mode="lexical")) == ["INC-2"]
    hybrid = index.query("enoxaparin", k=3, mode="hybrid")
    assert hybrid[0].id == "INC-2"
    assert "Enoxaparin 40 mg" in hybrid[0].snippet
    assert -1.0 <= hybrid[0].similarity <= 1.0 and hybrid[0].metadata["category"] == "Medication"


def test_filters_on_metadata_and_dates(index):
    falls = index.query("patient fell", k=10, where={"category": "Falls"})
    assert set(ids(falls)) == {"INC-1", "INC-5"}
    not_none = index.query("patient", k=10, where={"harm": {"$ne": "none"}})
    assert set(ids(not_none)) == {"INC-2", "INC-3", "INC-5", "INC-6"}
    chosen = index.query("patient", k=10, where={"harm": {"$in": ["moderate"]}}, mode="lexical")
    assert set(ids(chosen)) <= {"INC-3", "INC-6"}
    dated = index.query("patient", k=10, since="2024-02-10", until="2024-04-20")
    assert set(ids(dated)) == {"INC-2", "INC-3", "INC-5"}  # INC-4 has no date: left out
    with pytest.raises(RetrievalError, match="unknown filter field 'ward'"):
        index.query("fall", where={"ward": "A"})
    with pytest.raises(RetrievalError, match="empty query"):
        index.query("  ")


def test_a_broad_filter_applied_after_the_search_finds_what_chromas_filter_finds(index, counting):
    from retrieval.search import POST_FILTER_SHARE

    store = index._store
    for where in ({"category": "Falls"}, {"harm": {"$ne": "none"}}, {"category": "Infection"}):
        share = len(store.ids_where(where)) / store.count()
        hits = index.query("patient had a fall in the ward", k=3, where=where, mode="dense")
        reference = store.nearest(counting.encode(["patient had a fall in the ward"])[0], 3, where)
        assert ids(hits) == [i for i, _ in reference], (where, share)
    assert POST_FILTER_SHARE > 1 / 6  # the Infection filter (one report in six) took Chroma's own path


def test_a_write_clears_the_remembered_filter_ids(index):
    assert set(ids(index.query("patient", k=10, where={"harm": "low"}))) == {"INC-2", "INC-5"}
    rows = list(REPORTS)
    rows[0] = ("INC-1", "2024-01-05", "Falls", "low", rows[0][4])
    index.add(frame(rows), meta_cols=META)
    assert set(ids(index.query("patient", k=10, where={"harm": "low"}))) == {"INC-1", "INC-2", "INC-5"}


def test_similar_excludes_the_report_itself(index):
    hits = index.similar("INC-1", k=3)
    assert "INC-1" not in ids(hits) and len(hits) == 3
    assert "INC-5" in ids(hits)  # the other fall
    assert index.similar("INC-1", k=1, mode="dense")[0].id == "INC-5"
    with pytest.raises(RetrievalError, match="'INC-99' is not in index"):
        index.similar("INC-99")


def test_labelled_neighbours_for_the_rag_labeller(index):
    hits = index.query(REPORTS[0][4], k=2, where={"category": {"$ne": ""}}, exclude_ids={"INC-1"})
    assert "INC-1" not in ids(hits) and hits[0].metadata["category"] == "Falls"


def test_bm25_kept_in_step_equals_one_rebuilt_from_chroma(index):
    rows = [*REPORTS[1:], ("INC-7", "2024-06-01", "Falls", "none", "Patient fell from a commode; skin tear to the left arm.")]
    rows[1] = rows[1][:4] + ("Central venous catheter occluded; alteplase instilled to clear it.",)
    index.add(frame(rows), meta_cols=META, prune=True)  # one added, one changed, INC-1 pruned
    saved = LexicalIndex.load(index.dir / "lexical.npz")
    rebuilt = index._build_lexical()
    assert sorted(saved.ids) == sorted(rebuilt.ids) == sorted(r[0] for r in rows)
    for query in ("alteplase catheter", "fell from bed", "Hickman line", "insulin omitted"):
        assert dict(zip(saved.ids, saved.scores(query))) == pytest.approx(dict(zip(rebuilt.ids, rebuilt.scores(query))))


def test_reopen_read_only_without_model_and_lexical_rebuilt_after_crash(tmp_path, embedder):
    root = tmp_path / "index"
    with IncidentIndex.open(root, "incidents", embedder, writable=True) as opened:
        opened.add(frame(), meta_cols=META)
    # As a killed writer leaves it: marker present, lexical file from an older state.
    (root / "incidents" / "lexical.stale").touch()
    (root / "incidents" / "lexical.npz").unlink()
    reopened = IncidentIndex.open(root, "incidents")  # model taken from the index's record
    assert reopened.embedder.fingerprint == embedder.fingerprint
    assert sorted(reopened.lexical.ids) == sorted(r[0] for r in REPORTS)
    assert not (root / "incidents" / "lexical.stale").exists() and (root / "incidents" / "lexical.npz").exists()
    assert ids(reopened.query("Hickman line", k=1)) == ["INC-3"]
    with pytest.raises(RetrievalError, match="read-only"):
        reopened.add(frame())


def test_missing_index_and_bad_names_are_one_line_errors(tmp_path):
    with pytest.raises(IndexNotFound, match="no index 'incidents'"):
        IncidentIndex.open(tmp_path / "nothing", "incidents")
    with pytest.raises(RetrievalError, match="collection name 'a/b'"):
        IncidentIndex.open(tmp_path / "nothing", "a/b", writable=True)


def test_a_different_embedding_model_is_refused(tmp_path, embedder):
    root = tmp_path / "index"
    with IncidentIndex.open(root, "incidents", embedder, writable=True) as opened:
        opened.add(frame(REPORTS[:2]))
    # The same weights with one config file changed: a different model as far as the index knows.
    other = tmp_path / "other-model"
    for path in default_model_path().rglob("*"):
        target = other / path.relative_to(default_model_path())
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path.name == "sentence_bert_config.json":
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(path.read_text().replace("256", "128"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)
    with pytest.raises(RetrievalError, match="was built with embedding model all-MiniLM-L6-v2"):
        IncidentIndex.open(root, "incidents", Embedder(other))
    shutil.rmtree(other)


def test_a_second_writer_process_gets_a_busy_error(tmp_path, embedder):
    root = tmp_path / "index"
    with IncidentIndex.open(root, "incidents", embedder, writable=True) as opened:
        opened.add(frame(REPORTS[:2]))
        script = textwrap.dedent(f"""
            from pathlib import Path
            from retrieval.errors import IndexBusy
            from retrieval.index import IncidentIndex
            try:
                IncidentIndex.open(Path({str(root)!r}), "incidents", writable=True)
            except IndexBusy as exc:
                print(exc)
            """)
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
        assert "is busy (another incident-lens process is writing it)" in out.stdout, out.stderr
        # Readers are not blocked by the writer.
        assert IncidentIndex.open(root, "incidents").count() == 2
    # Released on close: a new writer gets in.
    IncidentIndex.open(root, "incidents", embedder, writable=True).close()


def test_chroma_itself_reopens_the_collection_with_our_registered_model(tmp_path, embedder):
    import chromadb
    from chromadb.config import Settings

    from retrieval.chroma_ef import IncidentLensEmbeddingFunction

    root = tmp_path / "index"
    with IncidentIndex.open(root, "incidents", embedder, writable=True) as opened:
        opened.add(frame(), meta_cols=META)
    client = chromadb.PersistentClient(path=str(root / "incidents" / "chroma"), settings=Settings(anonymized_telemetry=False, allow_reset=False))
    collection = client.get_collection("incidents")  # no embedding function given: Chroma rebuilds ours from its config
    assert isinstance(collection.configuration["embedding_function"], IncidentLensEmbeddingFunction)
    assert collection.configuration["hnsw"]["space"] == "cosine"
    found = collection.query(query_texts=["enoxaparin given twice"], n_results=1)
    assert found["ids"] == [["INC-2"]]


def test_a_streamed_file_is_indexed_chunk_by_chunk_with_the_date_order_of_the_whole_file(tmp_path, embedder, monkeypatch):
    import retrieval.index as index_module
    from incident_lens.inputs.report_files import open_reports

    # Only the last row's date (07/13/2024) shows the column is month-first; it comes in the last chunk.
    rows = [(r[0], f"0{n + 1}/0{n + 2}/2024", r[2], r[3], r[4]) for n, r in enumerate(REPORTS[:5])] + [("INC-6", "07/13/2024", *REPORTS[5][2:])]
    path = tmp_path / "reports.csv"
    frame(rows).to_csv(path, index=False)
    monkeypatch.setattr(index_module, "CHUNK_ROWS", 2)
    with IncidentIndex.open(tmp_path / "index", "streamed", embedder, writable=True) as opened:
        summary = opened.add(open_reports(path), meta_cols=META)
        assert (summary.added, opened.count()) == (6, 6)
        assert opened.date_field == "occurred_at"
        # Month-first: 01/02/2024 is 2 January, so only INC-1 falls before 15 January.
        assert ids(opened.query("patient", k=10, until="2024-01-15", mode="lexical")) == ["INC-1"]
        again = opened.add(open_reports(path), meta_cols=META, prune=True)
    assert (again.unchanged, again.pruned) == (6, 0)


def test_a_duplicate_id_in_a_later_chunk_stops_the_add_before_anything_is_written(tmp_path, embedder, monkeypatch):
    import retrieval.index as index_module

    monkeypatch.setattr(index_module, "CHUNK_ROWS", 2)
    rows = [*REPORTS[:5], ("INC-1", *REPORTS[5][1:])]
    with IncidentIndex.open(tmp_path / "index", "dups", embedder, writable=True) as opened:
        with pytest.raises(RetrievalError, match="id 'INC-1' appears more than once"):
            opened.add(frame(rows), meta_cols=META)
        assert opened.count() == 0
