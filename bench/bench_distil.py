"""Students (distil) and the review queue: quality per student, label cleaning with cleanlab, streamed labelling at scale.

Usage (each part under 10 minutes on 2 cores; run under `flock /tmp/bench.lock`):
    .venv/bin/python bench/bench_distil.py quality --datasets harm,incident-type,cxr-findings [--max-train 600]
    .venv/bin/python bench/bench_distil.py quality --datasets vaers,maude,openi --max-train 600 --max-test 600
    .venv/bin/python bench/bench_distil.py cleaning --datasets harm,incident-type,vaers,maude [--flip 0.05]
    .venv/bin/python bench/bench_distil.py pseudo --datasets harm,incident-type,vaers,maude
    .venv/bin/python bench/bench_distil.py scale --rows 50000,200000
quality: `tfidf-lr`, `embed-lr` and `encoder` students trained on the same gold rows (a seeded stratified
70/30 split, train capped at --max-train rows, test at --max-test), scored on the same test rows.
cleaning: flip --flip of the train labels at random (to another label), run `review-queue` on the train
rows; precision of the top-N queued rows (N = flipped rows) at finding flipped ones, and a tfidf-lr
student's test macro-F1 trained on clean / flipped / flipped minus the top-N queued rows.
pseudo: a student trained on a teacher's pseudo-labels against one trained on gold (see `pseudo`).
scale: a large report file made by resampling the demo incidents (ids unique, texts repeated), labelled
by a tfidf-lr student with `label --program DIR` (streamed): reports/s, resident memory as it goes, and
hours projected for 2.5 million reports on 2 and 16 cores (one process per core, each on its share).
Shared data is read from ../shared/data and skipped cleanly when absent; nothing is copied into the repo.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
DEFAULT_DATA = REPO.parent / "shared" / "data"
SEED = 13
DEMO = {"harm": ("harm", REPO / "data" / "gold" / "harm.csv"),
        "incident-type": ("incident-type", REPO / "data" / "gold" / "incident-type.csv"),
        "cxr-findings": ("cxr-findings", REPO / "data" / "gold" / "cxr-findings.csv")}
SHARED = ("vaers", "maude", "openi")


def _rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def load_dataset(name: str, data: Path, workdir: Path, vaers_sample: int):
    """(task, frame with id + text columns + labels) for a demo gold file or a shared set."""
    from incident_lens.inputs.task_files import find_task, load_task_file

    if name in DEMO:
        task_name, path = DEMO[name]
        return find_task(task_name), pd.read_csv(path, dtype=str, keep_default_na=False), f"`{path.relative_to(REPO)}`"
    import bench_baselines as bb

    if not data.is_dir():
        return None, None, None
    if name == "vaers":
        frame, note = bb.prepare_vaers(data, vaers_sample)
        return load_task_file(REPO / "bench" / "tasks" / "vaers-severity.toml"), frame, note
    if name == "maude":
        frame, note = bb.prepare_maude(data)
        return load_task_file(REPO / "bench" / "tasks" / "maude-event-type.toml"), frame, note
    task = find_task("cxr-findings")
    frame, note = bb.prepare_openi(data, task)
    return task, frame, note


def gold_split(task, frame: pd.DataFrame, workdir: Path, name: str, max_train: int, max_test: int, settings):
    """Seeded stratified 70/30 split, capped: (train GoldSet, test GoldSet)."""
    from incident_lens.inputs.gold import load_gold
    from incident_lens.inputs.splits import assign_split, strata

    path = workdir / f"{name}-all.csv"
    frame.to_csv(path, index=False)
    gold = load_gold(path, task, cache_dir=settings.workspace.cache_dir)
    parts = assign_split(gold.ids, strata(task, gold.labels), SEED, {"train": 0.7, "dev": 0.0, "test": 0.3})
    rng = random.Random(SEED)
    train_ids = [i for i in gold.ids if parts[i] == "train"]
    test_ids = [i for i in gold.ids if parts[i] == "test"]
    if max_train and len(train_ids) > max_train:
        train_ids = rng.sample(train_ids, max_train)
    if max_test and len(test_ids) > max_test:
        test_ids = rng.sample(test_ids, max_test)
    return gold.subset(train_ids), gold.subset(test_ids), path


def _fmt(scores: dict, key: str) -> str:
    value, ci = scores.get(key), scores.get("ci95", {}).get(key)
    if value is None:
        return "-"
    return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else f"{value:.3f}"


def quality(args, settings, workdir: Path) -> str:
    from incident_lens.scoring.coverage import accuracy_at_coverage
    from incident_lens.scoring.scores import row_correct, score_predictions
    from incident_lens.students import make_student
    from incident_lens.students.store import student_predict

    lines = ["| data set | task | train / test | student | macro-F1 [95% CI] | accuracy | acc. at 80 % coverage | train s | label reports/s |",
             "|---|---|---|---|---|---|---|---|---|"]
    embedder = None
    for name in args.datasets:
        task, frame, note = load_dataset(name, Path(args.data), workdir, args.vaers_sample)
        if task is None:
            print(f"skipped {name}: {args.data} not found")
            continue
        train, test, _ = gold_split(task, frame, workdir, name, args.max_train, args.max_test, settings)
        for kind in args.students:
            student = make_student(kind, task, settings, epochs=args.epochs, max_length=args.max_length, embedder=embedder)
            embedder = getattr(student, "embedder", None) or embedder
            started = time.perf_counter()
            student.fit(train.texts, train.labels)
            train_s = time.perf_counter() - started
            started = time.perf_counter()
            predicted, confidence = student_predict(student, test.texts)
            rate = len(test) / (time.perf_counter() - started)
            scores = score_predictions(task, test.labels, predicted, seed=SEED)
            cov = accuracy_at_coverage(row_correct(task, test.labels, predicted), confidence)
            line = (f"| {name} | {task.name} ({task.kind}) | {len(train)} / {len(test)} | {kind} | {_fmt(scores, 'macro_f1')} | "
                    f"{scores['accuracy']:.3f} | {cov['80']['accuracy']:.3f} | {train_s:.1f} | {rate:,.0f} |")
            print(line, flush=True)
            lines.append(line)
    return "\n".join(lines)


def cleaning(args, settings, workdir: Path) -> str:
    from incident_lens.pipelines.review_queue import review_queue
    from incident_lens.scoring.scores import score_predictions
    from incident_lens.students import make_student
    from incident_lens.students.store import student_predict

    lines = ["| data set | train rows | flipped | queued | precision of top-N (N = flipped) | recall of all queued | "
             "macro-F1 clean | flipped | flipped minus top-N | flipped minus all queued | queue s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in args.datasets:
        task, frame, note = load_dataset(name, Path(args.data), workdir, args.vaers_sample)
        if task is None:
            print(f"skipped {name}: {args.data} not found")
            continue
        if task.kind != "single":
            print(f"skipped {name}: flipping is defined here for single-label tasks")
            continue
        train, test, _ = gold_split(task, frame, workdir, name, args.max_train, args.max_test, settings)
        rng = random.Random(SEED)
        n_flip = max(1, round(args.flip * len(train)))
        flipped_rows = set(rng.sample(range(len(train)), n_flip))
        labels = list(train.labels)
        for i in flipped_rows:
            labels[i] = rng.choice([n for n in task.label_names if n != labels[i]])
        flipped_ids = {train.ids[i] for i in flipped_rows}
        noisy = train.reports.frame[["id", "text"]].copy()
        column = task.label_column or "label"
        noisy[column] = labels
        noisy_path = workdir / f"{name}-noisy.csv"
        noisy.to_csv(noisy_path, index=False)
        queue_path = workdir / f"{name}-queue.csv"
        if queue_path.exists():
            queue_path.unlink()
        started = time.perf_counter()
        result = review_queue(settings, task, queue_path, gold_path=noisy_path, text_cols=["text"])
        queue_s = time.perf_counter() - started
        queued = pd.read_csv(queue_path, dtype=str, keep_default_na=False)["id"].tolist()
        top = queued[:n_flip]
        precision = len(set(top) & flipped_ids) / n_flip
        recall = len(set(queued) & flipped_ids) / n_flip

        def f1(keep_ids: set | None, use_labels: list) -> float:
            rows = [i for i in range(len(train)) if keep_ids is None or train.ids[i] not in keep_ids]
            student = make_student("tfidf-lr", task, settings).fit([train.texts[i] for i in rows], [use_labels[i] for i in rows])
            return score_predictions(task, test.labels, student_predict(student, test.texts)[0], n_boot=1)["macro_f1"]

        clean, dirty = f1(None, train.labels), f1(None, labels)
        minus_top, minus_all = f1(set(top), labels), f1(set(queued), labels)
        line = (f"| {name} | {len(train)} | {n_flip} | {result.queued} | {precision:.2f} | {recall:.2f} | {clean:.3f} | {dirty:.3f} | "
                f"{minus_top:.3f} | {minus_all:.3f} | {queue_s:.1f} |")
        print(line, flush=True)
        lines.append(line)
    return "\n".join(lines)


def pseudo(args, settings, workdir: Path) -> str:
    """Students trained on pseudo-labels of a teacher against students trained on gold, same train rows.

    The teacher is an `embed-lr` trained on the first --teacher-rows gold train rows (the bundled 135M LLM
    answers mostly one label, see Prompt variants, so it would teach nothing); it labels the other
    train rows, and the student learns from its gold rows (weight 2) plus those pseudo-labels (weight 1)."""
    from incident_lens.scoring.scores import score_predictions
    from incident_lens.students import make_student
    from incident_lens.students.store import student_predict

    lines = ["| data set | train rows | teacher gold rows | teacher macro-F1 | tfidf-lr on teacher gold only | "
             "tfidf-lr on teacher gold + pseudo-labels | tfidf-lr on all train gold | pseudo-label agreement with gold |",
             "|---|---|---|---|---|---|---|---|"]
    embedder = None
    for name in args.datasets:
        task, frame, note = load_dataset(name, Path(args.data), workdir, args.vaers_sample)
        if task is None:
            print(f"skipped {name}: {args.data} not found")
            continue
        train, test, _ = gold_split(task, frame, workdir, name, args.max_train, args.max_test, settings)
        k = min(args.teacher_rows, len(train) // 2)
        teacher = make_student("embed-lr", task, settings, embedder=embedder)
        embedder = teacher.embedder
        teacher.fit(train.texts[:k], train.labels[:k])

        def macro(predicted) -> float:
            return score_predictions(task, test.labels, predicted, n_boot=1)["macro_f1"]

        pseudo_labels = student_predict(teacher, train.texts[k:])[0]
        agreement = float(np.mean([a == b for a, b in zip(pseudo_labels, train.labels[k:])]))
        few = make_student("tfidf-lr", task, settings).fit(train.texts[:k], train.labels[:k])
        mixed = make_student("tfidf-lr", task, settings).fit(train.texts, list(train.labels[:k]) + pseudo_labels,
                                                             [2.0] * k + [1.0] * len(pseudo_labels))
        full = make_student("tfidf-lr", task, settings).fit(train.texts, train.labels)
        line = (f"| {name} | {len(train)} | {k} | {macro(student_predict(teacher, test.texts)[0]):.3f} | "
                f"{macro(student_predict(few, test.texts)[0]):.3f} | {macro(student_predict(mixed, test.texts)[0]):.3f} | "
                f"{macro(student_predict(full, test.texts)[0]):.3f} | {agreement:.3f} |")
        print(line, flush=True)
        lines.append(line)
    return "\n".join(lines)


def make_big_file(path: Path, rows: int) -> None:
    """Demo incidents resampled (seeded) to `rows` reports with unique ids; written in chunks."""
    demo = pd.read_csv(REPO / "data" / "demo" / "incidents.csv", dtype=str, keep_default_na=False)
    rng = np.random.default_rng(SEED)
    first = True
    for start in range(0, rows, 50_000):
        n = min(50_000, rows - start)
        chunk = demo.iloc[rng.integers(0, len(demo), n)].copy()
        chunk["id"] = [f"BIG-{start + i:08d}" for i in range(n)]
        chunk.to_csv(path, mode="w" if first else "a", header=first, index=False)
        first = False


def scale(args, settings, workdir: Path) -> str:
    from incident_lens.pipelines.distil import distil
    from incident_lens.pipelines.student_labelling import label_file_with_student
    from incident_lens.inputs.task_files import find_task

    task = find_task("harm")
    student_dir = workdir / "harm-student"
    if not student_dir.exists():
        distil(settings, task, "tfidf-lr", student_dir, gold_path=DEMO["harm"][1])
    lines = ["| reports | seconds | reports/s | RSS after 10 % / 50 % / 100 % (MiB) | peak RSS (MiB) | projected hours for 2.5 M: 1 core / 2 cores / 16 cores |",
             "|---|---|---|---|---|---|"]
    for rows in args.rows:
        path = workdir / f"big-{rows}.csv"
        if not path.exists():
            make_big_file(path, rows)
        out = workdir / f"big-{rows}-labels.csv"
        if out.exists():
            out.unlink()
        marks: dict[int, float] = {}

        def progress(done: int, total: int) -> None:
            for pct in (10, 50, 100):
                if pct not in marks and total and done >= total * pct / 100:
                    marks[pct] = _rss_mib()

        import resource

        started = time.perf_counter()
        summary = label_file_with_student(settings, path, task, out, student_dir, progress=progress)
        seconds = time.perf_counter() - started
        rate = rows / seconds
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        hours = [2_500_000 / (rate * cores) / 3600 for cores in (1, 2, 16)]
        assert summary.counts.get("ok") == rows, summary.counts
        line = (f"| {rows:,} | {seconds:.1f} | {rate:,.0f} | {' / '.join(f'{marks.get(p, 0):.0f}' for p in (10, 50, 100))} | "
                f"{peak:.0f} | {' / '.join(f'{h:.2f}' for h in hours)} |")
        print(line, flush=True)
        lines.append(line)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["quality", "cleaning", "pseudo", "scale"])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--datasets", default="harm,incident-type,cxr-findings", type=lambda s: [x for x in s.split(",") if x])
    parser.add_argument("--students", default="tfidf-lr,embed-lr,encoder", type=lambda s: [x for x in s.split(",") if x])
    parser.add_argument("--max-train", type=int, default=600)
    parser.add_argument("--max-test", type=int, default=600)
    parser.add_argument("--vaers-sample", type=int, default=6000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--flip", type=float, default=0.05)
    parser.add_argument("--teacher-rows", type=int, default=100)
    parser.add_argument("--rows", default="50000,200000", type=lambda s: [int(x) for x in s.split(",") if x])
    args = parser.parse_args()
    from incident_lens import offline
    from incident_lens.config import load_settings

    workdir = Path(tempfile.mkdtemp(prefix="bench-distil-"))
    offline.activate(workdir / "ws")
    settings = load_settings(home=workdir / "ws")
    print(f"{args.part}: {' '.join(sys.argv[1:])}; cpu {os.cpu_count()}; load {os.getloadavg()[0]:.1f}", flush=True)
    try:
        table = {"quality": quality, "cleaning": cleaning, "pseudo": pseudo, "scale": scale}[args.part](args, settings, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(table)


if __name__ == "__main__":
    main()
