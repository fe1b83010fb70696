"""Which prompt layout a small real model follows best: one factor at a time from today's prompt, on six data sets.

Usage: .venv/bin/python bench/bench_prompt_variants.py [--n 20] [--n-findings N] [--datasets harm,incident-type,cxr-findings,openi,vaers,maude]
       [--variants base,label-first,no-rationale,short-definitions,2-demos,4-demos,chat-adapter] [--no-combined]
       [--threads 1] [--data ../shared/data] [--model PATH.gguf] [--resume]
The model is the bundled SmolLM2-135M-Instruct unless --model is given; temperature 0, no answer cache.
Variants change one thing from `base` (evidence, rationale, then the label; full definitions; JSON adapter;
no demos): the answer first, no rationale, short definitions, 2 or 4 LabeledFewShot demos from the train part,
DSPy's chat adapter (grammar-constrained like JSON). `combined` then takes, per task kind, every factor whose
variant beat `base` on mean macro-F1 over that kind's data sets. Data sets: the demo gold sets (their recorded
split's dev part; demos from train) and, when ../shared/data exists, OpenI cxr-findings, VAERS severity and
MAUDE event type (bench_baselines' seeded 70/30 split: its test part, demos from train). Each set uses the
same N reports for every variant: single-label sets a seeded sample taking the labels in turn (so rare
labels appear and answering one label scores low), findings sets a seeded sample of reports with at least
one positive finding (a findings answer is ~230 tokens, 3-4x a single label's: `--n-findings` sizes them apart).
Columns: macro-F1 (findings: over findings with >= 1 gold positive among the N), share of answers with
verified evidence, median seconds per report, share of reports given the most common answer, median output
tokens (load-independent cost), errors. Data sets run one after another, all variants of one set in turn.
Writes bench/out/prompt_variants.{md,json} (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench_llm_common import OUT, REPO, markdown_table

DEMO_SETS = {"harm": "harm", "incident-type": "incident-type", "cxr-findings": "cxr-findings"}
SHARED_SETS = ("openi", "vaers", "maude")
FACTOR_VARIANTS = ("base", "label-first", "no-rationale", "short-definitions", "2-demos", "4-demos", "chat-adapter")
MIN_SUPPORT = 1  # findings: macro-F1 over findings with at least this many gold positives among the N reports
SEED = 13


def variant_spec(name: str):
    """(PromptStyle, number of demos) of a one-factor variant."""
    from programs.prompt_style import ORIGINAL, PromptStyle

    return {
        "base": (ORIGINAL, 0),
        "label-first": (PromptStyle(label_first=True), 0),
        "no-rationale": (PromptStyle(rationale=False), 0),
        "short-definitions": (PromptStyle(definitions="short"), 0),
        "2-demos": (ORIGINAL, 2),
        "4-demos": (ORIGINAL, 4),
        "chat-adapter": (PromptStyle(adapter="chat"), 0),
    }[name]


def sample_rows(task, gold, n: int, seed: int = SEED) -> list[int]:
    """Indices of n rows: labels taken in turn (single/multi by first label); findings: reports with a positive."""
    rng = random.Random(seed)
    indices = list(range(len(gold)))
    if task.kind == "findings":
        positive = [i for i in indices if any(s == "positive" for s in gold.labels[i].values())]
        pool = positive if len(positive) >= n else indices
        return sorted(rng.sample(pool, min(n, len(pool))))
    by_label: dict[str, list[int]] = {}
    for i, labels in enumerate(gold.labels):
        key = labels if task.kind == "single" else (labels[0] if labels else "")
        by_label.setdefault(key, []).append(i)
    queues = [rng.sample(rows, len(rows)) for _, rows in sorted(by_label.items())]
    chosen: list[int] = []
    while len(chosen) < min(n, len(indices)):
        for queue in queues:
            if queue and len(chosen) < n:
                chosen.append(queue.pop())
    return sorted(chosen)


def load_datasets(names: list[str], data: Path, settings, workdir: Path) -> list[tuple[str, object, object, object]]:
    """[(name, task, eval GoldSet, train GoldSet)] for the names asked for; shared sets skipped when absent."""
    import bench_baselines as bb
    from incident_lens.inputs.gold import load_gold, load_sets
    from incident_lens.inputs.task_files import find_task, load_task_file

    out = []
    for name in names:
        if name in DEMO_SETS:
            task = find_task(DEMO_SETS[name])
            train, dev, test, _ = load_sets(task, REPO / "data" / "gold" / f"{name}.csv", settings)
            out.append((name, task, dev if dev is not None and len(dev) else test, train))
            continue
        if not data.is_dir():
            print(f"skipped {name}: data folder {data} not found", file=sys.stderr)
            continue
        if name == "openi":
            task = find_task("cxr-findings")
            frame, _ = bb.prepare_openi(data, task)
        elif name == "vaers":
            task = load_task_file(REPO / "bench" / "tasks" / "vaers-severity.toml")
            frame, _ = bb.prepare_vaers(data, 12_000)  # bench_baselines' default sample: the same split
        else:
            task = load_task_file(REPO / "bench" / "tasks" / "maude-event-type.toml")
            frame, _ = bb.prepare_maude(data)
        train_path, test_path, _ = bb.split_files(frame, task, workdir, name)
        read = {"max_chars": settings.max_chars, "cache_dir": settings.workspace.cache_dir}
        out.append((name, task, load_gold(test_path, task, **read), load_gold(train_path, task, **read)))
    return out


def top_share(task, predicted: list) -> float:
    """Share of reports given the most common answer (1.0: the same answer for every report)."""
    keys = [None if p is None else tuple(p.items()) if isinstance(p, dict) else tuple(p) if isinstance(p, (list, tuple)) else p
            for p in predicted]
    return Counter(keys).most_common(1)[0][1] / len(keys) if keys else float("nan")


def run_cell(task, program, gold, rows: list[int]) -> dict:
    from incident_lens.pipelines.predicting import gold_form, predict_one
    from incident_lens.scoring.scores import score_predictions

    predicted, seconds, tokens, verified, errors = [], [], [], 0, Counter()
    for i in rows:
        result = predict_one(program, task, gold.texts[i], report_id=gold.ids[i])
        predicted.append(gold_form(task, result.labels) if result.ok else None)
        seconds.append(result.latency_s)
        tokens.append(result.completion_tokens)
        verified += bool(result.ok and result.evidence_verified)
        if not result.ok:
            errors[result.status] += 1
    gold_labels = [gold.labels[i] for i in rows]
    scores = score_predictions(task, gold_labels, predicted, min_support=MIN_SUPPORT, n_boot=10)
    return {"macro_f1": scores.get("macro_f1"), "micro_f1": scores.get("micro_f1"), "accuracy": scores.get("accuracy"),
            "averaged_over": scores.get("averaged_over"), "verified": verified / len(rows),
            "s_median": statistics.median(seconds), "s_mean": statistics.fmean(seconds), "s_first": seconds[0],
            "output_tokens_median": statistics.median(tokens),
            "top_share": top_share(task, predicted), "errors": dict(errors), "n": len(rows)}


def build(task, style, n_demos: int, train):
    import dspy

    from incident_lens.pipelines.predicting import gold_examples
    from programs import build_program

    program = build_program(task, "zero-shot", style=style)
    if n_demos:
        program = dspy.LabeledFewShot(k=n_demos).compile(program, trainset=gold_examples(task, train))
    return program


def combined_spec(results: dict, datasets: list, kind: str):
    """(PromptStyle, demos, chosen factors) from the one-factor results on the data sets of one task kind."""
    from dataclasses import replace

    names = [name for name, task, *_ in datasets if (task.kind if task.kind != "multi" else "single") == kind]

    def mean_f1(variant):
        values = [results.get(variant, {}).get(name, {}).get("macro_f1") for name in names]
        values = [v or 0.0 for v in values if v is not None or variant in results]
        return statistics.fmean(values) if values else None

    base = mean_f1("base")
    style, demos, chosen = variant_spec("base")[0], 0, []
    if base is None:
        return style, demos, chosen
    for variant in ("label-first", "no-rationale", "short-definitions", "chat-adapter"):
        value = mean_f1(variant)
        if value is not None and value > base:
            other = variant_spec(variant)[0]
            style = replace(style, **{f: getattr(other, f) for f in ("label_first", "rationale", "definitions", "adapter")
                                      if getattr(other, f) != getattr(variant_spec("base")[0], f)})
            chosen.append(variant)
    demo_scores = {v: mean_f1(v) for v in ("2-demos", "4-demos")}
    best = max((v for v in demo_scores if demo_scores[v] is not None), key=lambda v: demo_scores[v], default=None)
    if best and demo_scores[best] > base:
        demos = variant_spec(best)[1]
        chosen.append(best)
    return style, demos, chosen


def cell_text(cell: dict | None) -> str:
    if not cell:
        return "-"
    f1 = "-" if cell["macro_f1"] is None else f"{cell['macro_f1']:.2f}"
    errors = sum(cell["errors"].values())
    return (f"{f1} / {cell['verified']:.2f} / {cell['s_median']:.1f} / {cell['top_share']:.2f} / {cell['output_tokens_median']:.0f}"
            + (f" ({errors} err)" if errors else ""))


def combined_text(chosen: dict) -> str:
    parts = []
    for kind, c in chosen.items():
        demos = f" + {c['demos']} demos" if c["demos"] else ""
        parts.append(f"{kind}: {c['style']}{demos} ({', '.join(c['factors']) or 'nothing beat base: not run'})")
    return f"Combined, per task kind: {'; '.join(parts)}." if parts else ""


def table(results: dict, names: list[str]) -> str:
    rows = [[variant] + [cell_text(cells.get(name)) for name in names] for variant, cells in results.items()]
    return markdown_table(["variant"] + names, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="reports per data set (the same rows for every variant)")
    parser.add_argument("--n-findings", type=int, default=None, help="reports per findings data set (default: --n)")
    parser.add_argument("--datasets", default="harm,incident-type,cxr-findings,openi,vaers,maude",
                        type=lambda s: [x for x in s.split(",") if x])
    parser.add_argument("--variants", default=",".join(FACTOR_VARIANTS), type=lambda s: [x for x in s.split(",") if x])
    parser.add_argument("--no-combined", action="store_true", help="skip the combination of the winners")
    parser.add_argument("--threads", type=int, default=1,
                        help="llama.cpp threads (1: on a machine other jobs share, 2 threads on 2 cores ran ~10x slower)")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--model", type=Path, default=None, help="GGUF (default: the bundled SmolLM2-135M-Instruct)")
    parser.add_argument("--out", type=Path, default=OUT / "prompt_variants")
    parser.add_argument("--resume", action="store_true", help="keep the cells already in --out's JSON (same rows) and run the rest")
    args = parser.parse_args()
    unknown = set(args.datasets) - set(DEMO_SETS) - set(SHARED_SETS)
    if unknown:
        parser.error(f"unknown data set(s): {', '.join(sorted(unknown))}")
    bad = set(args.variants) - set(FACTOR_VARIANTS)
    if bad:
        parser.error(f"unknown variant(s): {', '.join(sorted(bad))}")

    import dspy

    from incident_lens.config import Settings
    from incident_lens.llm import build_lm
    from incident_lens.llm.default_model import bundled_model_path

    load_start = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else []
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="bench-prompt-variants-"))
    home = OUT / "ws-prompt-variants"
    settings = Settings(home=home, model_path=args.model or bundled_model_path(home / "cache"), threads=args.threads)
    lm = build_lm(settings, cache=False)
    datasets = load_datasets(args.datasets, args.data, settings, workdir)
    names = [name for name, *_ in datasets]
    rows = {name: sample_rows(task, gold, (args.n_findings or args.n) if task.kind == "findings" else args.n)
            for name, task, gold, _ in datasets}
    results: dict[str, dict] = {}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    previous = args.out.with_suffix(".json")
    if args.resume and previous.is_file():
        old = json.loads(previous.read_text(encoding="utf-8"))
        same_rows = {name for name, _, gold, _ in datasets
                     if old.get("datasets", {}).get(name, {}).get("ids") == [gold.ids[i] for i in rows[name]]}
        for variant, cells in old.get("results", {}).items():
            if variant != "combined":
                kept = {name: cell for name, cell in cells.items() if name in same_rows}
                if kept:
                    results[variant] = kept
        load_start = old.get("load_start", load_start)

    def save(extra: dict | None = None):
        record = {"n": args.n, "n_findings": args.n_findings or args.n, "threads": args.threads, "model": str(settings.model_path), "load_start": load_start,
                  "datasets": {name: {"task": task.name, "kind": task.kind, "eval_rows": len(gold), "train_rows": len(train),
                                      "ids": [gold.ids[i] for i in rows[name]]} for name, task, gold, train in datasets},
                  "results": results, **(extra or {})}
        args.out.with_suffix(".json").write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")

    def run(variant: str, name: str, task, gold, train, style, demos: int):
        if name in results.get(variant, {}):
            return
        t0 = time.perf_counter()
        with dspy.context(lm=lm):
            cell = run_cell(task, build(task, style, demos, train), gold, rows[name])
        cell.update(style=style.name(), demos=demos, wall_s=round(time.perf_counter() - t0, 1))
        results.setdefault(variant, {})[name] = cell
        print(f"{variant:>18} {name:>14}: {cell_text(cell)}  [{cell['wall_s']:.0f} s]", flush=True)
        save()

    # Data set outer, variants inner: a data set's variants run minutes apart, so machine load drifts little
    # between them (each variant's first report evaluates its own prompt prefix either way).
    for name, task, gold, train in datasets:
        for variant in args.variants:
            style, demos = variant_spec(variant)
            run(variant, name, task, gold, train, style, demos)
    chosen = {}
    if not args.no_combined and "base" in results:
        for kind in ("single", "findings"):
            style, demos, factors = combined_spec(results, datasets, kind)
            chosen[kind] = {"style": style.name(), "demos": demos, "factors": factors}
            if not factors:
                continue
            for name, task, gold, train in datasets:
                if (task.kind if task.kind != "multi" else "single") == kind:
                    run("combined", name, task, gold, train, style, demos)
    load_end = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else []
    total = time.perf_counter() - started
    save({"combined": chosen, "load_end": load_end, "total_s": round(total, 1)})
    command = "python bench/bench_prompt_variants.py " + " ".join(sys.argv[1:])
    text = "\n".join([
        "### Prompt variants on SmolLM2-135M-Instruct", "",
        f"Command: `{command.strip()}`. {args.n} reports per single-label set, {args.n_findings or args.n} per findings set, temperature 0, no answer cache, "
        f"{args.threads} llama.cpp thread(s); load average (1/5/15 min) {' '.join(load_start)} at start, "
        f"{' '.join(load_end)} at the end; {total / 60:.0f} min in all.",
        "Cells: macro-F1 / share of answers with verified evidence / median seconds per report / share of "
        "reports given the most common answer / median output tokens. " + combined_text(chosen),
        "", table(results, names), ""])
    args.out.with_suffix(".md").write_text(text, encoding="utf-8")
    print("\n" + text)


if __name__ == "__main__":
    main()
