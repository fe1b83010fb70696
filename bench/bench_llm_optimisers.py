"""Dev lift of the DSPy optimisers with the real model: dev metric / macro-F1 before and after, LM calls, minutes.

Usage: .venv/bin/python bench/bench_llm_optimisers.py [--model PATH.gguf] [--task harm] [--gold data/gold/harm.csv]
       [--dev-limit 4] [--optimizers labeled knn bootstrap random-search] [--candidates 1] [--threads 2]
       [--update-results]
Default model: the bundled SmolLM2-135M-Instruct (real weights). Each optimiser compiles the zero-shot program on
the gold file's recorded train split through `incident_lens.pipelines.optimising.optimise`, the code behind
`incident-lens optimise`, and is scored on the first `--dev-limit` dev rows before and after; programs and meta
files go to bench/out/optimisers/ (git-ignored), the workspace to bench/out/ws-optimisers (wiped at the start).
All optimisers share one LM with the workspace answer cache, as repeated `optimise` runs in one workspace do:
the zero-shot "before" answers are computed once and then come from the cache, and so do random-search's
candidates that repeat an earlier program. `LM calls` counts every call, cached or not; minutes are wall time.
random-search: `num_candidate_programs` = `--candidates` (DSPy also tries zero-shot, labelled-only and
unshuffled bootstrap), scored on the same capped dev rows.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from bench_llm_common import OUT, REPO, DEFAULT_MODEL, ensure_model, load_at_end, machine, markdown_table, model_label, update_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="default: the bundled SmolLM2-135M-Instruct")
    parser.add_argument("--task", default="harm")
    parser.add_argument("--gold", type=Path, default=REPO / "data" / "gold" / "harm.csv")
    parser.add_argument("--dev-limit", type=int, default=4)
    parser.add_argument("--optimizers", nargs="*", default=["labeled", "knn", "bootstrap", "random-search"])
    parser.add_argument("--candidates", type=int, default=1, help="random-search num_candidate_programs")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--update-results", action="store_true")
    args = parser.parse_args()

    from incident_lens.config import Settings
    from incident_lens.inputs.task_files import find_task
    from incident_lens.llm import build_lm
    from incident_lens.pipelines.optimising import optimise

    model = ensure_model(args.model, "1b")
    at_start = machine()
    task = find_task(args.task)
    home = OUT / "ws-optimisers"
    shutil.rmtree(home, ignore_errors=True)
    out_dir = OUT / "optimisers"
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(home=home, model_path=args.model, threads=args.threads)
    lm = build_lm(settings)
    print(f"model {model}, {at_start}", flush=True)
    rows = []
    for optimizer in args.optimizers:
        params = {"num_candidate_programs": args.candidates} if optimizer == "random-search" else None
        started = time.perf_counter()
        result = optimise(task, args.gold, settings, optimizer, "zero-shot", out=out_dir / f"{args.task}-{optimizer}.json",
                          dev_limit=args.dev_limit, params=params, lm=lm)
        minutes = (time.perf_counter() - started) / 60
        meta = result.meta
        before, after = meta["dev_before"], meta["dev_after"]
        shown = {k: v for k, v in meta["parameters"].items()}
        rows.append([optimizer, ", ".join(f"{k}={v}" for k, v in shown.items()), before["n"], before["metric"], after["metric"],
                     before["macro_f1"], after["macro_f1"], after["macro_f1"] - before["macro_f1"], meta["demos"],
                     meta["lm_calls"], minutes])
        print(markdown_table(HEADER, rows[-1:]).splitlines()[-1], flush=True)
    table = markdown_table(HEADER, rows)
    print("\n" + table)
    if args.update_results:
        model_opt = "" if args.model is None else f" --model {args.model}"
        text = (f"`.venv/bin/python bench/bench_llm_optimisers.py{model_opt} --task {args.task} --dev-limit {args.dev_limit} "
                f"--optimizers {' '.join(args.optimizers)} --candidates {args.candidates} --threads {args.threads}`; "
                f"model {model_label(model)}, gold `{args.gold.name}` (recorded split), zero-shot student, "
                f"{at_start}, {load_at_end()}.\n\n{table}")
        update_results("Optimisers: dev lift", text)


HEADER = ["optimizer", "parameters", "dev rows", "metric before", "metric after", "macro-F1 before", "macro-F1 after",
          "macro-F1 lift", "demos", "LM calls", "minutes"]


if __name__ == "__main__":
    main()
