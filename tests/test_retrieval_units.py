"""Retrieval pieces that need no model: filters, dates, fusion, BM25, snippets, hits."""

from __future__ import annotations

import pytest

from retrieval.errors import RetrievalError
from retrieval.filters import date_key, detect_date_order, parse_bound, parse_where, where_fields
from retrieval.fusion import reciprocal_rank_fusion
from retrieval.hits import Hit
from retrieval.lexical import LexicalIndex
from retrieval.snippets import best_snippet


def test_where_expressions_become_chroma_filters():
    assert parse_where(["harm=none"]) == {"harm": "none"}
    assert parse_where(["harm != No harm"]) == {"harm": {"$ne": "No harm"}}
    assert parse_where(["care_setting in acute, community"]) == {"care_setting": {"$in": ["acute", "community"]}}
    assert parse_where(["harm not in low,none", "category=Falls"]) == {"$and": [{"harm": {"$nin": ["low", "none"]}}, {"category": "Falls"}]}
    assert parse_where(["note=a=b"]) == {"note": "a=b"}
    assert parse_where([]) is None


@pytest.mark.parametrize("bad", ["harm", "=none", "harm in ", "harm in ,"])
def test_malformed_where_is_a_one_line_error(bad):
    with pytest.raises(RetrievalError, match=f"filter {bad!r}"):
        parse_where([bad])


def test_where_fields_walks_and_or():
    assert where_fields({"$and": [{"a": "1"}, {"$or": [{"b": {"$ne": "x"}}, {"c": "y"}]}]}) == {"a", "b", "c"}


def test_dates_become_sortable_ints_in_either_order():
    assert date_key("2024-03-01") == 20240301
    assert date_key("2024-03-01T10:15:00") == 20240301
    assert date_key("03/01/2024", dayfirst=True) == 20240103
    assert date_key("03/01/2024", dayfirst=False) == 20240301
    assert date_key("") is None and date_key("soon") is None and date_key("2024-02-30") is None
    # One value that only parses month-first settles the column.
    assert detect_date_order(["07/02/1990", "07/13/1990", ""]) is False
    assert detect_date_order(["13/07/1990", "01/02/1990"]) is True
    assert detect_date_order(["2024-01-01", "no date"]) is None
    assert parse_bound("2024-01-31", "since") == 20240131
    with pytest.raises(RetrievalError, match="until '31/01/2024'"):
        parse_bound("31/01/2024", "until")


def test_reciprocal_rank_fusion_rewards_agreement():
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "d"]])
    assert [i for i, _ in fused] == ["b", "a", "d", "c"]
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 61)


def test_bm25_ranks_rare_exact_terms_and_round_trips(tmp_path):
    texts = ["patient fell from bed", "patient given enoxaparin twice", "patient fell in the big hospital bathroom", "hickman line infection"]
    lex = LexicalIndex.build(["a", "b", "c", "d"], texts, state={"count": 4})
    assert [i for i, _ in lex.search("enoxaparin dose", k=3)] == ["b"]
    assert [i for i, _ in lex.search("patient fell", k=2)] == ["a", "c"]  # shorter document first
    assert lex.search("nothing matches", k=3) == []
    import numpy as np

    assert [i for i, _ in lex.search("patient", k=5, allowed=np.array([False, True, False, True]))] == ["b"]
    lex.save(tmp_path / "lex.npz")
    back = LexicalIndex.load(tmp_path / "lex.npz")
    assert back.ids == lex.ids and back.state == {"count": 4}
    assert np.allclose(back.scores("hickman line"), lex.scores("hickman line"))
    assert not (tmp_path / "lex.npz.tmp").exists()
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    assert LexicalIndex.load(tmp_path / "bad.npz") is None


def test_bm25_built_from_pages_equals_built_at_once():
    import numpy as np

    ids, texts = ["a", "b", "c", "d", "e"], ["warfarin omitted", "fall at night", "warfarin dose doubled", "fall, no harm", "the and of"]
    pages = iter([(ids[:2], texts[:2]), (ids[2:4], texts[2:4]), (ids[4:], texts[4:])])
    paged, whole = LexicalIndex.build_paged(pages), LexicalIndex.build(ids, texts)
    assert paged.ids == ids and paged.vocabulary == whole.vocabulary
    assert np.allclose(paged.scores("warfarin fall"), whole.scores("warfarin fall"))
    # Only stop words anywhere: an index that matches nothing, not an error.
    empty = LexicalIndex.build(["x", "y"], ["the and", "of"])
    assert len(empty) == 2 and empty.search("the", k=3) == []


def test_bm25_edited_in_place_equals_built_from_the_final_texts(tmp_path):
    import numpy as np

    lex = LexicalIndex.build(["a", "b", "c"], ["warfarin omitted", "fall at night", "hickman line occluded"])
    lex.upsert(["b", "d"], ["fall from chair, wrist fracture", "warfarin dose doubled"])  # b replaced, d added
    lex.remove(["c", "zzz"])  # the only report with "hickman"; an unknown id is ignored
    fresh = LexicalIndex.build(["a", "b", "d"], ["warfarin omitted", "fall from chair, wrist fracture", "warfarin dose doubled"])
    query = "warfarin fall wrist night"
    scores = lex.scores(query)  # searched straight after the edits, before anything else settles them
    assert dict(zip(lex.ids, scores)) == pytest.approx(dict(zip(fresh.ids, fresh.scores(query))))
    lex.save(tmp_path / "lex.npz")
    edited = LexicalIndex.load(tmp_path / "lex.npz")
    assert len(edited) == 3 and sorted(edited.ids) == ["a", "b", "d"]
    assert "hickman" not in edited.vocabulary and "night" not in edited.vocabulary  # terms no report has are dropped
    by_id = lambda lx: dict(zip(lx.ids, lx.scores(query)))  # noqa: E731
    assert by_id(edited) == pytest.approx(by_id(fresh))
    assert edited.search("hickman", k=3) == []


def test_snippet_is_the_passage_with_the_query_terms():
    text = "Admitted for hip surgery. Observations stable overnight. " * 5 + "Enoxaparin 40 mg was given twice by mistake. Reported to pharmacy."
    lex = LexicalIndex.build(["x", "y"], [text, "another report about falls"])
    snippet = best_snippet(text, "enoxaparin given twice", lex.idf_lookup(), width=80)
    assert "Enoxaparin 40 mg was given twice" in snippet and snippet.startswith("…")
    assert best_snippet(text, "unrelated words", lex.idf_lookup(), width=80).startswith("Admitted for hip surgery.")


def test_hit_round_trips_through_dict():
    hit = Hit(1, "INC-1", 0.5, "text", {"harm": "none"}, "text", 0.7)
    assert Hit.from_dict(hit.to_dict()) == hit


def test_plan_changes_sorts_rows_into_new_changed_relabelled_unchanged():
    import pandas as pd

    from retrieval.changes import plan_changes, report_metadata

    chunk = pd.DataFrame({"id": ["a", "b", "c", "d"], "text": ["one", "two", "three!", "four"], "harm": ["none", "low", "low", "none"],
                          "when": ["01/02/2024", "", "", ""]})
    wanted = report_metadata(chunk, ["harm", "when"], "when", dayfirst=True)
    assert wanted[0]["_date"] == 20240201 and wanted[1]["_date"] is None
    stored = {
        "b": dict(wanted[1]),
        "c": {**wanted[2], "_hash": "old text"},
        "d": {**wanted[3], "harm": "low", "ward": "gone"},
    }
    plan = plan_changes(["a", "b", "c", "d"], wanted, stored)
    assert plan.embed == [0, 2] and plan.relabel == [3]
    assert plan.counts == {"added": 1, "updated": 1, "meta_updated": 1, "unchanged": 1}
    assert plan.wanted[3]["ward"] is None and plan.wanted[3]["harm"] == "none"  # None deletes the key in Chroma


def test_freed_heap_memory_goes_back_to_the_os():
    import sys
    from pathlib import Path

    from retrieval.memory import release_freed_memory

    if not sys.platform.startswith("linux") or not release_freed_memory():
        pytest.skip("glibc only")

    def resident_mib() -> float:
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmRSS:")[1].split()[0]) / 1024

    # 64 KiB blocks live on the heap (under glibc's mmap threshold); the last one, kept, pins the
    # top of the heap, so freeing the others alone leaves them resident.
    blocks = [bytearray(64 * 1024) for _ in range(3200)]
    pin = blocks[-1]
    del blocks
    before = resident_mib()
    release_freed_memory()
    assert before - resident_mib() > 100
    assert len(pin) == 64 * 1024
