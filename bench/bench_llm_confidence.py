"""LLM confidence by agreement of sampled answers: what it costs and whether it ranks right answers first.

Runs `incident-lens evaluate` (the real stack: the bundled SmolLM2-135M-Instruct or `--model`, llama.cpp,
2 threads) on `--rows` seeded test rows of a gold file, the rest as train, with zero-shot run twice: without
a confidence, and with `--confidence-samples N`. Beside it tfidf-lr and embed-lr on the same rows (their
confidence is the class probability). Prints, per method: macro-F1, accuracy, seconds, LM tokens, and the
accuracy of the most confident 80 / 90 / 95 % (with the confidence threshold). The cost ratio is
zero-shot with samples over zero-shot without, measured in the same run.

Usage: flock /tmp/bench.lock .venv/bin/python bench/bench_llm_confidence.py [--task harm] [--gold data/gold/harm.csv]
       [--rows 40] [--samples 2] [--model M.gguf]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SEED = 7


def run_evaluate(work: Path, task: str, train: Path, test: Path, methods: list[str], samples: int, model: Path | None, name: str) -> dict:
    cli = Path(sys.executable).with_name("incident-lens")
    report = work / name
    # A workspace per run: DSPy's cache must not replay the first run's answers in the second.
    cmd = [str(cli), "--home", str(work / f"ws-{name}"), "evaluate", "--task", task, "--gold", str(test), "--train", str(train),
           "--report", str(report), "--threads", "2", *[a for m in methods for a in ("--method", m)],
           *(["--confidence-samples", str(samples)] if samples else []), *(["--model", str(model)] if model else [])]
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"evaluate failed ({name}): {done.stderr.strip().splitlines()[-1:]}")
    metrics = json.loads((report / "metrics.json").read_text())
    metrics["wall_s"] = time.perf_counter() - started
    return metrics


def row(label: str, m: dict) -> str:
    tokens = m.get("details", {}).get("lm_tokens") or {}
    used = (tokens.get("prompt_tokens", 0) + tokens.get("completion_tokens", 0)) or "-"
    coverage = m.get("coverage")
    cells = ["no confidence"] * 3 if coverage is None else [
        f"{c['accuracy']:.3f} (>= {c['min_confidence']:.2f})" for c in coverage.values()]
    return f"| {label} | {m['macro_f1']:.3f} | {m['accuracy']:.3f} | {m['seconds']:.1f} | {used} | " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", default="harm")
    parser.add_argument("--gold", type=Path, default=REPO / "data" / "gold" / "harm.csv")
    parser.add_argument("--rows", type=int, default=40)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--model", type=Path)
    args = parser.parse_args()

    gold = pd.read_csv(args.gold, dtype=str, keep_default_na=False).sample(frac=1.0, random_state=SEED)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        test, train = work / "test.csv", work / "train.csv"
        gold.head(args.rows).to_csv(test, index=False)
        gold.iloc[args.rows:].to_csv(train, index=False)
        plain = run_evaluate(work, args.task, train, test, ["zero-shot"], 0, args.model, "plain")
        sampled = run_evaluate(work, args.task, train, test, ["zero-shot", "tfidf-lr", "embed-lr"], args.samples, args.model, "sampled")
    print(f"{args.task}: {args.rows} test rows of {args.gold.name} (seed {SEED}), {len(gold) - args.rows} train rows; "
          f"zero-shot at temperature 0, then {args.samples} samples at 0.7 for the confidence\n")
    print("| method | macro-F1 | accuracy | seconds | LM tokens | 80 % coverage | 90 % coverage | 95 % coverage |")
    print("|---|---|---|---|---|---|---|---|")
    print(row("zero-shot (no confidence)", plain["methods"]["zero-shot"]))
    print(row(f"zero-shot, {args.samples} samples", sampled["methods"]["zero-shot"]))
    for name in ("tfidf-lr", "embed-lr"):
        print(row(name, sampled["methods"][name]))
    ratio = sampled["methods"]["zero-shot"]["seconds"] / max(plain["methods"]["zero-shot"]["seconds"], 1e-9)
    print(f"\ncost of the confidence: zero-shot with {args.samples} samples / without = {ratio:.2f}x the time")


if __name__ == "__main__":
    main()
