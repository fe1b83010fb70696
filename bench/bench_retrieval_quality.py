"""Retrieval quality on real text: dense vs lexical vs hybrid, through the real index.

MTSamples: each note's transcription is indexed; its human `description` is the query; we report
recall@1, recall@10 and MRR (over the top 10) of finding the note itself.
OpenI: each report (findings + impression) is indexed; `similar(id)` gives 10 neighbours; for each
ChestX-ray14 finding, precision@10 = share of a positive report's neighbours that are also positive
(mean over positive reports), then the macro mean over findings.

Usage: .venv/bin/python bench/bench_retrieval_quality.py [--data ../shared/data] [--limit N] [--workdir DIR]
Skips (exit 0) when the data folder is absent. Builds its indexes in a workspace outside the repo
(default: <tmp>/incident-lens-bench/quality); a second run re-uses them (indexing is idempotent).
Queries are embedded in one batch up front; per-query times exclude that.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MODES = ("dense", "lexical", "hybrid")
FINDINGS = ("Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia", "Pneumothorax",
            "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia")


def build(home: Path, name: str, path: Path, text_cols: list[str], id_col: str, meta: list[str], limit: int | None):
    from incident_lens.config import Settings
    from incident_lens.pipelines.indexing import index_file, open_index

    settings = Settings(home=home)
    result = index_file(settings, path, text_cols=text_cols, id_col=id_col, meta_cols=meta, collection=name, limit=limit)
    print(f"  indexed {name}: {result.summary}", file=sys.stderr)
    return result.reports.read_all(), open_index(settings, name)


def mtsamples(home: Path, data: Path, limit: int | None) -> list[dict]:
    path = data / "mtsamples" / "mtsamples_dev.csv"
    frame, index = build(home, f"mtsamples-{limit}" if limit else "mtsamples", path, ["transcription"], "note_id", ["medical_specialty"], limit)
    from incident_lens.inputs.report_files import read_table

    descriptions = read_table(path).set_index("note_id")["description"]
    queries = [(i, descriptions[i].strip()) for i in frame["id"] if descriptions[i].strip()]
    vectors = index.embedder.encode([q for _, q in queries])
    rows = []
    for mode in MODES:
        ranks, start = [], time.perf_counter()
        for (report_id, query), vector in zip(queries, vectors):
            ids = [h.id for h in index.query(query, k=10, mode=mode, embedding=vector)]
            ranks.append(ids.index(report_id) + 1 if report_id in ids else None)
        seconds = time.perf_counter() - start
        found = [r for r in ranks if r]
        rows.append({"set": "MTSamples", "mode": mode, "queries": len(queries),
                     "recall@1": sum(r == 1 for r in found) / len(queries), "recall@10": len(found) / len(queries),
                     "MRR@10": sum(1 / r for r in found) / len(queries), "ms/query": 1000 * seconds / len(queries)})
    return rows


def openi(home: Path, data: Path, limit: int | None) -> list[dict]:
    path = data / "openi" / "openi_reports_dev.csv"
    frame, index = build(home, f"openi-{limit}" if limit else "openi", path, ["findings", "impression"], "uid", list(FINDINGS), limit)
    labels = {row["id"]: {f for f in FINDINGS if row[f] == "1"} for _, row in frame.iterrows()}
    rows = []
    for mode in MODES:
        per_finding: dict[str, list[float]] = {f: [] for f in FINDINGS}
        start = time.perf_counter()
        for report_id, positives in labels.items():
            if not positives:
                continue
            neighbours = [h.id for h in index.similar(report_id, k=10, mode=mode)]
            for finding in positives:
                per_finding[finding].append(sum(finding in labels[n] for n in neighbours) / 10)
        seconds = time.perf_counter() - start
        scored = {f: float(np.mean(v)) for f, v in per_finding.items() if v}
        row = {"set": "OpenI", "mode": mode, "queries": sum(1 for p in labels.values() if p),
               "P@10 macro": float(np.mean(list(scored.values()))),
               "P@10 micro": float(np.mean([x for v in per_finding.values() for x in v])),
               "ms/query": 1000 * seconds / max(1, sum(1 for p in labels.values() if p))}
        row.update({f"P@10 {f}": v for f, v in scored.items()})
        rows.append(row)
    return rows


def print_table(rows: list[dict], columns: list[str]) -> None:
    print("| " + " | ".join(columns) + " |")
    print("|" + "|".join("---" for _ in columns) + "|")
    for row in rows:
        print("| " + " | ".join(f"{row[c]:.3f}" if isinstance(row[c], float) else str(row[c]) for c in columns) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--limit", type=int, default=None, help="Use only the first N reports of each set.")
    parser.add_argument("--sets", default="mtsamples,openi")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "incident-lens-bench" / "quality")
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"skipped: benchmark data not found at {args.data}")
        return 0
    home = args.workdir / "ws"
    if "mtsamples" in args.sets:
        rows = mtsamples(home, args.data, args.limit)
        print("\nMTSamples: description -> its own transcription")
        print_table(rows, ["mode", "queries", "recall@1", "recall@10", "MRR@10", "ms/query"])
        dense, hybrid = rows[0], rows[2]
        print(f"hybrid / dense: recall@1 x{hybrid['recall@1'] / dense['recall@1']:.2f}, MRR@10 x{hybrid['MRR@10'] / dense['MRR@10']:.2f}")
    if "openi" in args.sets:
        rows = openi(home, args.data, args.limit)
        print("\nOpenI: neighbours sharing each finding (similar(id), k=10)")
        print_table(rows, ["mode", "queries", "P@10 macro", "P@10 micro", "ms/query"])
        print("\nper finding:")
        print_table([{"finding": f, **{m: r.get(f"P@10 {f}", float("nan")) for m, r in zip(MODES, rows)}} for f in FINDINGS], ["finding", *MODES])
        dense, hybrid = rows[0], rows[2]
        print(f"hybrid / dense: P@10 macro x{hybrid['P@10 macro'] / dense['P@10 macro']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
