"""Fine-tuning the real SmolLM2-135M-Instruct on CPU: macro-F1 fine-tuned vs zero-shot vs tfidf-lr on the same rows,
training speed with 1 and 2 threads, peak memory.

Usage (each run well under 10 minutes on 2 shared cores; run under `flock /tmp/bench.lock`):
    .venv/bin/python bench/bench_finetune.py quality --dataset harm --train 100 --eval 40 --epochs 1 --max-minutes 6
    .venv/bin/python bench/bench_finetune.py quality --dataset vaers --train 100 --eval 40 --epochs 1 --max-minutes 6
    .venv/bin/python bench/bench_finetune.py throughput --dataset harm --steps 2
`quality` runs `pipelines.finetuning.finetune` (the code behind `optimise --optimizer finetune`) on `--train` rows
with `--eval` other rows as its dev split, so "zero-shot" is the base model with the same prompt (dev before)
and "fine-tuned" the written GGUF through llama.cpp (dev after); tfidf-lr is trained on the same train rows.
harm: the demo gold file's recorded split (train rows from train, eval rows from dev + test). vaers: the
stratified 12,000-report sample of bench_baselines (severity from the outcome flags), seeded rows.
`throughput` times `--steps` optimiser steps of batch 8 with 1 thread, then 2, on the same examples.
Scratch files go to bench/out/finetune/ (ignored by git); the real data never leaves ../shared/data.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

OUT = REPO / "bench" / "out" / "finetune"
DATA = REPO.parent / "shared" / "data"
SEED = 13


def rows_for(dataset: str, n_train: int, n_eval: int):
    """(task, frame of train + eval rows, train ids, eval ids)."""
    import pandas as pd

    from incident_lens.config import Settings
    from incident_lens.inputs.gold import load_sets
    from incident_lens.inputs.task_files import find_task, load_task_file

    if dataset == "harm":
        task = find_task("harm")
        gold = REPO / "data" / "gold" / "harm.csv"
        train, dev, test, _ = load_sets(task, gold, Settings(home=OUT / "ws-split"))
        train_ids = train.ids[:n_train]
        eval_ids = (dev.ids + test.ids)[:n_eval]
        frame = pd.read_csv(gold, dtype=str, keep_default_na=False)
        return task, frame[frame["id"].isin(train_ids + eval_ids)], train_ids, eval_ids
    if not DATA.is_dir():
        sys.exit(f"skipped {dataset}: data folder {DATA} not found")
    import bench_baselines as bb

    task = load_task_file(REPO / "bench" / "tasks" / "vaers-severity.toml")
    frame, _ = bb.prepare_vaers(DATA, 12_000)
    ids = frame["id"].tolist()
    random.Random(SEED).shuffle(ids)
    train_ids, eval_ids = ids[:n_train], ids[n_train:n_train + n_eval]
    return task, frame[frame["id"].isin(train_ids + eval_ids)], train_ids, eval_ids


def write_gold(task, frame, train_ids, eval_ids, folder: Path) -> tuple[Path, Path]:
    """The rows as one gold file and a split record that makes the eval rows its dev part."""
    from incident_lens.inputs.splits import SPLIT_FORMAT

    folder.mkdir(parents=True, exist_ok=True)
    gold = folder / "gold.csv"
    frame.to_csv(gold, index=False)
    split = folder / "split.json"
    assignments = {**{i: "train" for i in train_ids}, **{i: "dev" for i in eval_ids}}
    split.write_text(json.dumps({"format": SPLIT_FORMAT, "task": task.name, "seed": SEED, "fractions": {"train": 0.5, "dev": 0.5, "test": 0.0},
                                 "gold_sha256": "", "created_at": datetime.now(timezone.utc).isoformat(), "assignments": assignments}))
    return gold, split


def quality(args) -> None:
    from incident_lens.config import Settings
    from incident_lens.inputs.gold import load_sets
    from incident_lens.pipelines.baselines import make_baseline
    from incident_lens.pipelines.finetuning import finetune
    from incident_lens.scoring.scores import score_predictions

    task, frame, train_ids, eval_ids = rows_for(args.dataset, args.train, args.eval)
    folder = OUT / args.dataset
    gold, split = write_gold(task, frame, train_ids, eval_ids, folder)
    settings = Settings(home=OUT / "ws", threads=args.threads)
    # A checkpoint left by an earlier run stopped at --max-minutes would be resumed: start fresh, and leave none.
    shutil.rmtree(settings.workspace.home / "finetune", ignore_errors=True)
    train, dev, _test, _ = load_sets(task, gold, settings, None, split)
    started = time.perf_counter()
    baseline = make_baseline("tfidf-lr", task, seed=SEED)
    baseline.fit(train.texts, train.labels)
    predicted, _ = baseline.predict(dev.texts)
    tfidf = score_predictions(task, dev.labels, predicted, n_boot=200)
    last = {"t": time.perf_counter()}

    def hear(event):
        if hasattr(event, "step") and time.perf_counter() - last["t"] > 30:
            last["t"] = time.perf_counter()
            print(f"  step {event.step}/{event.total_steps} loss {event.loss:.3f} {event.examples_per_s:.3f} ex/s", flush=True)
        elif isinstance(event, str):
            print(f"  {event}", flush=True)

    result = finetune(task, gold, settings, out=folder / "ft.json", epochs=args.epochs, lr=args.lr, seed=SEED,
                      batch_size=args.batch_size, max_minutes=args.max_minutes, split_path=split, progress=hear,
                      checkpoint_every=1000)
    shutil.rmtree(settings.workspace.home / "finetune", ignore_errors=True)
    meta = result.meta
    t = meta["training"]
    counts = {label: sum(1 for x in train.labels if x == label) for label in task.label_names}
    print(f"\n{args.dataset}: {len(train)} train rows {counts}, {len(dev)} eval rows; {args.threads} threads; "
          f"epochs {args.epochs}, lr {args.lr}, batch {args.batch_size}, max {args.max_minutes} min")
    print("| method | macro-F1 | accuracy | no answer |")
    print("|---|---|---|---|")
    for name, scores in (("zero-shot (base model, same prompt)", meta["dev_before"]), ("fine-tuned (new GGUF, llama.cpp)", meta["dev_after"]),
                         ("tfidf-lr (same train rows)", tfidf)):
        print(f"| {name} | {scores['macro_f1']:.3f} | {scores['accuracy']:.3f} | {scores.get('no_answer', 0)} |")
    print(f"\ntraining: {t['steps']}/{t['total_steps']} steps{' (stopped at --max-minutes)' if t['stopped_early'] else ''}, "
          f"{t['seconds'] / 60:.1f} min, {t['examples_per_s']:.3f} examples/s, loss {t['first_loss']:.3f} -> {t['last_loss']:.3f}; "
          f"peak RSS {t['peak_rss_mb']:.0f} MB (whole process: torch model + AdamW + llama.cpp model); "
          f"whole run {(time.perf_counter() - started) / 60:.1f} min")


def throughput(args) -> None:
    import torch

    from incident_lens.config import Settings
    from incident_lens.inputs.gold import load_sets
    from incident_lens.llm import build_lm, engine_of
    from incident_lens.llm.default_model import resolve_model_path
    from incident_lens.llm.gguf_weights import read_llama_gguf, torch_model
    from incident_lens.pipelines.finetuning import student_program
    from incident_lens.pipelines.training_data import render_examples
    from incident_lens.pipelines.training_loop import TrainConfig, train

    task, frame, train_ids, eval_ids = rows_for(args.dataset, args.steps * 8, 0)
    folder = OUT / f"{args.dataset}-throughput"
    gold, split = write_gold(task, frame, train_ids, eval_ids, folder)
    settings = Settings(home=OUT / "ws", threads=2)
    train_set, _dev, _test, _ = load_sets(task, gold, settings, None, split)
    lm = build_lm(settings)
    examples, _ = render_examples(engine_of(lm), student_program(task, "brief"), task, train_set, 4096)
    tokens = sum(len(e.tokens) for e in examples) / len(examples)
    weights = read_llama_gguf(resolve_model_path(settings))
    print(f"\n{args.dataset}: {len(examples)} examples, mean {tokens:.0f} tokens (prompt + answer), batch 8, {args.steps} steps")
    print("| threads | seconds | examples/s | s per example | speed-up over 1 thread |")
    print("|---|---|---|---|---|")
    base = None
    for threads in (1, 2):
        torch.set_num_threads(threads)
        model = torch_model(weights)
        with tempfile.TemporaryDirectory(dir=OUT) as scratch:
            outcome = train(model, examples, TrainConfig(epochs=1, batch_size=8, checkpoint_every=10_000), Path(scratch), "t")
        rate = outcome.examples_per_s
        base = base or rate
        print(f"| {threads} | {outcome.train_seconds:.1f} | {rate:.3f} | {1 / rate:.2f} | {rate / base:.2f} |", flush=True)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def main() -> None:
    import os

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("quality", "throughput"))
    parser.add_argument("--dataset", choices=("harm", "vaers"), default="harm")
    parser.add_argument("--train", type=int, default=100)
    parser.add_argument("--eval", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-minutes", type=float, default=6.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()
    from incident_lens import offline

    offline.activate(OUT / "ws")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    quality(args) if args.mode == "quality" else throughput(args)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
