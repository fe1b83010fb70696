"""Throughput of the real model: llama.cpp tokens/s (1 and 2 threads) and `incident-lens label` reports/min.

Usage: .venv/bin/python bench/bench_llm_throughput.py [--model PATH.gguf] [--reports 6] [--threads 2]
       [--token-threads 1 2] [--task harm] [--gold data/gold/harm.csv] [--compiled optimized/harm.json]
       [--index-rows 300] [--update-results]
Default model: the bundled SmolLM2-135M-Instruct (real weights), as `incident-lens label` resolves it.
`--model bench/out/models/random-1b.gguf` measures a random-weight 1B stand-in instead (written on first use):
use it only where the cost of a bigger model is the point.
Part 1, tokens/s: one harm labelling prompt (the zero-shot program's, for a gold report) is evaluated from
an empty KV cache and answered with up to 64 tokens, 3 times per thread count; llama.cpp's own perf counters
give the prompt (prefill) and generation (decode) rates, medians of the 3.
Part 2, reports/min: `label_file` (the real pipeline: CSV in, rows out, manifest) with zero-shot, rag (an index
of the first `--index-rows` gold rows) and a compiled program, on the last `--reports` rows of the gold file
(demo harm reports), each into a fresh output file and workspace; the labelling loop is timed from the first
report to the last. Setup (model load, index opening) and the first report (which evaluates the shared prompt
prefix once) are reported separately. 2 threads = the TRE box.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench_llm_common import REPO, DEFAULT_MODEL, ensure_model, load_at_end, machine, markdown_table, model_label, update_results


def timed_run(settings, reports: Path, task, out: Path, program: str, name: str) -> dict:
    from incident_lens.pipelines.labelling import label_file

    marks: dict[int, float] = {}

    def progress(done: int, total: int) -> None:
        marks[done] = time.perf_counter()

    started = time.perf_counter()
    summary = label_file(settings, reports, task, out, program=program, collection="bench", progress=progress)
    ended = time.perf_counter()
    n = max(marks)
    steady = (marks[n] - marks[1]) / (n - 1) if n > 1 else float("nan")
    return {"program": name, "reports": n, "ok": summary.counts.get("ok", 0), "setup_s": marks[0] - started,
            "first_s": marks[1] - marks[0], "steady_s": steady, "per_min": 60 / steady,
            "per_min_all": 60 * n / (marks[n] - marks[0]), "total_s": ended - started}


def labelling_prompt(model: Path, task, text: str, home: Path) -> str:
    """The zero-shot program's prompt for `text`, as the engine renders it (chat template included)."""
    import dspy

    from bench_llm_common import make_lm
    from programs import build_program

    lm, engine = make_lm(model, threads=2, n_ctx=4096, home=home)
    prompts = []
    original = engine.complete

    def capture(request):
        prompts.append(engine.render(request)[0])
        return original(request)

    engine.complete = capture
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        build_program(task)(report=text)
    engine.complete = original
    return engine.loaded.llama.detokenize(prompts[-1]).decode("utf-8", errors="replace"), len(prompts[-1])


def token_rates(model: Path, prompt: str, threads: int, repeats: int = 3, max_tokens: int = 64) -> dict:
    import llama_cpp

    llama = llama_cpp.Llama(str(model), n_ctx=4096, n_threads=threads, n_threads_batch=threads, verbose=False, seed=13)
    tokens = llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
    prefill, decode, n_gen = [], [], []
    for _ in range(repeats):
        llama.reset()
        llama._ctx.kv_cache_clear() if hasattr(llama._ctx, "kv_cache_clear") else None
        llama_cpp.llama_perf_context_reset(llama._ctx.ctx)
        llama.create_completion(prompt=tokens, max_tokens=max_tokens, temperature=0.0)
        perf = llama_cpp.llama_perf_context(llama._ctx.ctx)
        prefill.append(perf.n_p_eval / (perf.t_p_eval_ms / 1000))
        decode.append((perf.n_eval) / (perf.t_eval_ms / 1000) if perf.n_eval else float("nan"))
        n_gen.append(perf.n_eval)
    llama.close()
    return {"threads": threads, "prompt_tok": len(tokens), "prefill": statistics.median(prefill),
            "decode": statistics.median(decode), "generated": statistics.median(n_gen), "repeats": repeats}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="default: the bundled SmolLM2-135M-Instruct")
    parser.add_argument("--size", default="1b", help="size of the random stand-in written when --model does not exist")
    parser.add_argument("--reports", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--token-threads", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3, help="token-rate repeats per thread count")
    parser.add_argument("--programs", nargs="*", default=["zero-shot", "rag", "compiled"])
    parser.add_argument("--task", default="harm")
    parser.add_argument("--gold", type=Path, default=REPO / "data" / "gold" / "harm.csv")
    parser.add_argument("--compiled", type=Path, default=REPO / "optimized" / "harm.json")
    parser.add_argument("--index-rows", type=int, default=300)
    parser.add_argument("--update-results", action="store_true")
    args = parser.parse_args()

    import pandas as pd

    from incident_lens.config import Settings
    from incident_lens.inputs.report_files import join_fields
    from incident_lens.inputs.task_files import find_task
    from incident_lens.pipelines.indexing import index_file

    model = ensure_model(args.model, args.size)
    at_start = machine()
    task = find_task(args.task)
    frame = pd.read_csv(args.gold, dtype=str, keep_default_na=False)
    print(f"model {model}, {at_start}", flush=True)
    rates, results = [], []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        prompt, n_prompt = labelling_prompt(model, task, join_fields(frame.iloc[-1], list(task.input_fields)), home / "prompt")
        for threads in args.token_threads:
            rates.append(token_rates(model, prompt, threads, args.repeats))
            print(rates[-1], flush=True)
        indexed, reports = home / "indexed.csv", home / "reports.csv"
        frame.iloc[: args.index_rows].to_csv(indexed, index=False)
        frame.iloc[-args.reports :].to_csv(reports, index=False)
        base = Settings(home=home / "index", model_path=args.model, threads=args.threads)
        if "rag" in args.programs:
            index_file(base, indexed, meta_cols=[task.label_column], collection="bench")
        programs = [("zero-shot", "zero-shot"), ("rag", f"rag (k={base.rag_k})"),
                    (str(args.compiled), f"compiled `{args.compiled.name}`")]
        programs = [p for p, key in zip(programs, ("zero-shot", "rag", "compiled")) if key in args.programs]
        for program, name in programs:
            # A fresh answer cache per program; the index is shared (same workspace home for rag).
            settings = Settings(home=home / "index", model_path=args.model, threads=args.threads)
            result = timed_run(settings, reports, task, home / f"{len(results)}.csv", program, name)
            results.append(result)
            print(result, flush=True)

    rate_table = markdown_table(["threads", "prompt tok", "prompt eval tok/s", "generated tok", "generation tok/s"],
                                [[r["threads"], r["prompt_tok"], r["prefill"], r["generated"], r["decode"]] for r in rates])
    header = ["program", "reports", "ok", "setup s", "first report s", "s/report (steady)", "reports/min (steady)", "reports/min (incl. first)"]
    rows = [[r["program"], r["reports"], r["ok"], r["setup_s"], r["first_s"], r["steady_s"], r["per_min"], r["per_min_all"]] for r in results]
    table = markdown_table(header, rows)
    ratios = ", ".join(f"{r['program']} {r['steady_s'] / results[0]['steady_s']:.2f}x" for r in results[1:])
    line = f"Time per report relative to zero-shot (steady): {ratios}"
    print("\n" + rate_table + "\n\n" + table + "\n\n" + line)
    if args.update_results:
        model_opt = "" if args.model is None else f" --model {args.model}"
        text = (f"`.venv/bin/python bench/bench_llm_throughput.py{model_opt} --reports {args.reports} --threads {args.threads} "
                f"--task {args.task}`; model {model_label(model)}, {at_start}, {load_at_end()}.\n\n"
                f"Tokens/s (llama.cpp perf counters, median of {args.repeats}; one zero-shot harm prompt from an empty KV cache, "
                f"up to 64 generated tokens, greedy):\n\n{rate_table}\n\n"
                f"Reports/min with `label_file` on {args.threads} threads, the last {args.reports} rows of "
                f"`{args.gold.name}` (rag: index of its first {args.index_rows} rows):\n\n{table}\n\n{line}. "
                "Steady state excludes the first report, which evaluates the shared instructions once per run.")
        update_results("Throughput", text)


if __name__ == "__main__":
    main()
