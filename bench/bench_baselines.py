"""Baselines on real text: the bar the LLM programs must beat (OpenI chest X-rays, VAERS, MAUDE).

Usage: .venv/bin/python bench/bench_baselines.py [--data ../shared/data] [--datasets openi,openi-normal,vaers,maude]
       [--methods tfidf-lr,embed-lr,knn] [--vaers-sample 12000] [--update-results]
Reads the public data sets from `../shared/data` (never copied into the repo; skipped cleanly when absent),
derives each task's gold column, makes a seeded stratified 70/30 train/test split (recorded by seed,
data hash and a hash of the test ids), trains every baseline on train and scores it on test with
`incident_lens.pipelines.evaluation.evaluate(..., train_path=...)`. Prints a markdown table per data set;
`--update-results` rewrites the `## Baselines` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "bench" / "RESULTS.md"
SEED = 13
TEST_FRACTION = 0.3

VAERS_ORDER = [("DIED", "death"), ("L_THREAT", "life_threatening"), ("HOSPITAL", "hospitalised"), ("DISABLE", "disabled")]
MAUDE_CODES = {"M": "malfunction", "IN": "injury", "D": "death", "O": "other"}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def prepare_openi(data: Path, task) -> tuple[pd.DataFrame, str]:
    frame = pd.read_csv(data / "openi" / "openi_reports_dev.csv", dtype=str, keep_default_na=False)
    # The task's finding names may spell a column differently ("Pleural thickening" / "Pleural_Thickening").
    def key(name: str) -> str:
        return name.lower().replace("_", " ").strip()

    by_key = {key(c): c for c in frame.columns}
    renames = {by_key[key(name)]: name for name in task.label_names if key(name) in by_key}
    frame = frame.rename(columns=renames)
    frame["id"] = frame["uid"]
    note = ("OpenI 0/1 columns: 1 -> positive, 0 -> not mentioned; scored as positive vs not; "
            "text = findings + impression")
    return frame, note


def normal_task(workdir: Path):
    """cxr-findings plus OpenI's `normal` column as a 15th label: the setting of published OpenI figures."""
    from incident_lens.inputs.task_files import find_task, load_task_file

    base = find_task("cxr-findings")
    text = base.source.read_text(encoding="utf-8").replace('name = "cxr-findings"', 'name = "cxr-findings-with-normal"', 1)
    path = workdir / "cxr-findings-with-normal.toml"
    path.write_text(text + '\n[[labels]]\nname = "normal"\ndefinition = "The report describes no abnormality."\n', encoding="utf-8")
    return load_task_file(path)


def prepare_vaers(data: Path, sample: int) -> tuple[pd.DataFrame, str]:
    frame = pd.read_csv(data / "vaers" / "vaers_1990_1996.csv", dtype=str, keep_default_na=False)
    severity = pd.Series("other", index=frame.index)
    for flag, label in reversed(VAERS_ORDER):
        severity[frame[flag].str.upper() == "Y"] = label
    frame["severity"] = severity
    frame["id"] = frame["VAERS_ID"]
    frame = frame[frame["SYMPTOM_TEXT"].str.strip() != ""]
    total = len(frame)
    if sample and len(frame) > sample:
        # Stratified by label so the rare outcomes keep their share; seeded, so it is the same every run.
        frame = frame.groupby("severity", group_keys=False).sample(frac=sample / len(frame), random_state=SEED)
    return frame, f"severity = first of DIED, L_THREAT, HOSPITAL, DISABLE flagged, else other; stratified sample of {len(frame):,} of {total:,} reports"


def prepare_maude(data: Path) -> tuple[pd.DataFrame, str]:
    frame = pd.read_csv(data / "maude" / "maude_sample_1k.csv", dtype=str, keep_default_na=False)
    dropped = int((~frame["EVENT_TYPE"].isin(MAUDE_CODES)).sum())
    frame = frame[frame["EVENT_TYPE"].isin(MAUDE_CODES)].copy()
    frame["event_type"] = frame["EVENT_TYPE"].map(MAUDE_CODES)
    frame["id"] = frame["MDR_REPORT_KEY"]
    return frame, f"EVENT_TYPE M/IN/D/O; {dropped} rows coded '*' left out"


def split_files(frame: pd.DataFrame, task, workdir: Path, name: str) -> tuple[Path, Path, str]:
    """Seeded stratified 70/30 split written as two CSV files (in a temporary folder, never the repo)."""
    from incident_lens.inputs.gold import load_gold
    from incident_lens.inputs.splits import assign_split, strata

    full = workdir / f"{name}-all.csv"
    frame.to_csv(full, index=False)
    gold = load_gold(full, task)
    parts = assign_split(gold.ids, strata(task, gold.labels), SEED, {"train": 1 - TEST_FRACTION, "dev": 0.0, "test": TEST_FRACTION})
    test_ids = sorted(i for i, p in parts.items() if p == "test")
    frame = frame[frame["id"].isin(gold.ids)]
    train_path, test_path = workdir / f"{name}-train.csv", workdir / f"{name}-test.csv"
    frame[frame["id"].map(parts) == "train"].to_csv(train_path, index=False)
    frame[frame["id"].map(parts) == "test"].to_csv(test_path, index=False)
    return train_path, test_path, hashlib.sha256("\n".join(test_ids).encode()).hexdigest()[:16]


def fmt(scores: dict, key: str) -> str:
    value, ci = scores.get(key), scores.get("ci95", {}).get(key)
    if value is None:
        return "-"
    return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else f"{value:.3f}"


def run(args) -> str:
    from incident_lens.config import load_settings
    from incident_lens.pipelines.evaluation import evaluate, make_embedder
    from incident_lens.inputs.task_files import find_task, load_task_file

    data = Path(args.data)
    if not data.is_dir():
        print(f"skipped: data folder {data} not found (the benchmarks read ../shared/data; nothing else is needed)")
        return ""
    workdir = Path(tempfile.mkdtemp(prefix="bench-baselines-"))
    settings = load_settings(home=workdir / "ws")
    embedder = make_embedder(settings) if {"embed-lr", "knn"} & set(args.methods) else None
    sections = []
    for name in args.datasets:
        if name in ("openi", "openi-normal"):
            task = find_task("cxr-findings") if name == "openi" else normal_task(workdir)
            frame, note = prepare_openi(data, task)
            source = data / "openi" / "openi_reports_dev.csv"
        elif name == "vaers":
            task = load_task_file(REPO / "bench" / "tasks" / "vaers-severity.toml")
            frame, note = prepare_vaers(data, args.vaers_sample)
            source = data / "vaers" / "vaers_1990_1996.csv"
        else:
            task = load_task_file(REPO / "bench" / "tasks" / "maude-event-type.toml")
            frame, note = prepare_maude(data)
            source = data / "maude" / "maude_sample_1k.csv"
        train_path, test_path, test_hash = split_files(frame, task, workdir, name)
        started = time.perf_counter()
        result = evaluate(task, test_path, list(args.methods), settings, train_path=train_path, embedder=embedder)
        print(f"{name}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
        reference = next((m.seconds for m in result.methods if m.name == "tfidf-lr"), None)
        lines = [f"### {name}: task `{task.name}` ({task.kind})", "",
                 f"Data `{os.path.relpath(source, REPO)}` "
                 f"(sha256 {_sha256(source)[:16]}); {note}. Split: seed {SEED}, stratified, "
                 f"{len(result.train):,} train / {len(result.test):,} test (test-id hash {test_hash}).", ""]
        if task.kind == "findings":
            averaged = result.methods[0].scores["averaged_over"] if result.methods else []
            normal = "normal" in task.label_names
            lines += [f"Micro/macro over the {len(averaged)} labels with >= {result.min_support} test positives "
                      f"({', '.join(n for n in task.label_names if n not in averaged) or 'none'} left out). "
                      + ("OpenI's `normal` column is scored as a 15th label here, as in published OpenI figures "
                         "(the 0.86 TF-IDF anchor); it is frequent and easy, so micro-F1 rises. "
                         if normal else "OpenI's `normal` column is not a finding and is not scored (see openi-normal). ")
                      + f"Accuracy is exact match of all {len(task.label_names)} labels of a report.", ""]
        lines += ["| method | macro-F1 [95% CI] | micro-F1 [95% CI] | accuracy [95% CI] | kappa | seconds | time vs tfidf-lr |",
                  "|---|---|---|---|---|---|---|"]
        for m in result.methods:
            ratio = f"{m.seconds / reference:.1f}x" if reference else "-"
            lines.append(f"| {m.name} | {fmt(m.scores, 'macro_f1')} | {fmt(m.scores, 'micro_f1')} | {fmt(m.scores, 'accuracy')} "
                         f"| {'undefined' if m.scores.get('kappa') is None else format(m.scores['kappa'], '.3f')} | {m.seconds:.1f} | {ratio} |")
        best = result.best()
        lines += ["", f"Best baseline (macro-F1): **{best.name}**." if best else "", ""]
        section = "\n".join(lines)
        print(section)
        sections.append(section)
    return "\n".join(sections)


def update_results(body: str, command: str) -> None:
    """Replace only the `## Baselines` section of bench/RESULTS.md (others own the rest)."""
    section = ("## Baselines\n\n"
               f"Measured with `{command}` (2 CPU cores, all-MiniLM-L6-v2 for embed-lr and knn, k = 10). "
               "Baselines train on the train part only; intervals are 95 % bootstrap intervals over test reports "
               "(1,000 resamples). The best baseline per data set is the bar the LLM programs must beat. "
               "Seconds include training and, for embed-lr and knn, embedding every report with MiniLM on the CPU; "
               "each text is embedded once per run, so openi-normal reuses openi's embeddings; they were measured while other jobs shared the machine, so read them as rough.\n\n" + body.strip() + "\n")
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.is_file() else "# Benchmark results\n"
    start = text.find("## Baselines")
    if start < 0:
        text = text.rstrip() + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + ("" if end < 0 else "\n" + text[end + 1:])
    RESULTS.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--datasets", default="openi,openi-normal,vaers,maude", type=lambda s: [x for x in s.split(",") if x])
    parser.add_argument("--methods", default="tfidf-lr,embed-lr,knn", type=lambda s: [x for x in s.split(",") if x])
    parser.add_argument("--vaers-sample", type=int, default=12_000, help="VAERS reports used (stratified sample; 0 = all)")
    parser.add_argument("--update-results", action="store_true", help="rewrite the ## Baselines section of bench/RESULTS.md")
    args = parser.parse_args()
    unknown = set(args.datasets) - {"openi", "openi-normal", "vaers", "maude"}
    if unknown:
        parser.error(f"unknown data set(s): {', '.join(sorted(unknown))}")
    body = run(args)
    if body and args.update_results:
        update_results(body, "python bench/bench_baselines.py " + " ".join(sys.argv[1:]).replace(" --update-results", "").strip())


if __name__ == "__main__":
    main()
