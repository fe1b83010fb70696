"""Overhead of the DSPy labelling program over a bare llama-cpp-python call with the identical prompt.

Usage: .venv/bin/python bench/bench_llm_overhead.py [--model PATH.gguf (default: the bundled SmolLM2-135M)] [--reports 4]
       [--threads 2] [--task harm] [--update-results]
For each demo report: the zero-shot labeller through DSPy (adapter, schema, engine, parse, evidence check),
and `Llama.create_completion` on the very prompt tokens and grammar the engine sent, with the same
sampling, so both produce the same answer (checked) of the same length. Before each timed call the KV
cache is rewound to the prompt prefix every report shares, so both evaluate the same report-specific
tokens, as in a batch run. The two variants alternate order per report to cancel drift in machine load.
On a shared, loaded machine two separate calls differ by load noise, so the DSPy call is also split
into the llama.cpp completion inside it and everything else (adapter, schema, templating, tokenising,
parsing, evidence check): that split is measured within one call and is immune to load drift.
Target: median latency overhead at most 10 %.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench_llm_common import DEFAULT_MODEL, load_at_end, ensure_model, machine, make_lm, model_label, markdown_table, median, demo_reports, update_results


HEADER = ["report", "prompt tok", "evaluated tok", "output tok", "same answer", "bare s", "DSPy s", "DSPy/bare",
          "llama.cpp s in DSPy call", "DSPy outside llama.cpp ms", "outside/llama.cpp %"]


def common_prefix(a, b) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def rewind(llama, n: int) -> None:
    """Keep only the first n tokens in llama.cpp's KV cache (what llama-cpp-python does before a prefix hit)."""
    n = min(n, llama.n_tokens)
    llama._ctx.kv_cache_seq_rm(-1, n, -1)
    llama.n_tokens = n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--size", default="1b", help="size to write when --model does not exist")
    parser.add_argument("--reports", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--task", default="harm")
    parser.add_argument("--update-results", action="store_true")
    args = parser.parse_args()

    import dspy

    from incident_lens.llm.llama_engine import SAMPLING, grammar_for
    from incident_lens.inputs.task_files import find_task
    from programs import build_program

    model = ensure_model(args.model, args.size)
    at_start = machine()
    lm, engine = make_lm(model, threads=args.threads)
    llama, loaded = engine.loaded.llama, engine.loaded
    task = find_task(args.task)
    program = build_program(task)
    requests = []
    original = engine.complete

    def capture(request):
        requests.append(request)
        return original(request)

    engine.complete = capture
    reports = demo_reports(task, args.reports + 1)
    rows, dspy_s, bare_s, ratios, inner_s, outside_s = [], [], [], [], [], []
    print(f"model {model.name} ({engine.info.size / 1e9:.2f} GB), threads {args.threads}, {at_start}", flush=True)
    with dspy.context(lm=lm):
        program(report=reports[0][1])  # warm-up: loads weights into the page cache, fills the KV cache
        base_tokens, _ = engine.render(requests[-1])
        for n, (report_id, text) in enumerate(reports[1:]):
            # The request DSPy will send for this report, rendered the way the engine renders it.
            program(report=text)
            request = requests[-1]
            tokens, stops = engine.render(request)
            shared = common_prefix(base_tokens, tokens)
            grammar = grammar_for(loaded, request.config.response_format)
            max_tokens = engine.last_call["max_tokens"]
            timings, outputs = {}, {}
            for variant in (("dspy", "bare") if n % 2 == 0 else ("bare", "dspy")):
                rewind(llama, shared)
                started = time.perf_counter()
                if variant == "dspy":
                    program(report=text)
                    inner = engine.last_call["seconds"]
                    outputs[variant] = lm.history[-1]["outputs"][0]
                    assert engine.render(requests[-1])[0] == tokens, "DSPy sent a different prompt"
                else:
                    out = llama.create_completion(prompt=tokens, max_tokens=max_tokens, temperature=0.0, seed=engine.seed,
                                                  stop=stops, grammar=grammar, **SAMPLING)
                    outputs[variant] = out["choices"][0]["text"]
                timings[variant] = time.perf_counter() - started
            same = outputs["dspy"] == outputs["bare"]
            completion = engine.last_call["completion_tokens"]
            ratio = timings["dspy"] / timings["bare"]
            dspy_s.append(timings["dspy"])
            bare_s.append(timings["bare"])
            ratios.append(ratio)
            outside = timings["dspy"] - inner
            inner_s.append(inner)
            outside_s.append(outside)
            rows.append([report_id, len(tokens), len(tokens) - shared, completion, "yes" if same else "NO",
                         timings["bare"], timings["dspy"], ratio, inner, outside * 1000, outside / inner * 100])
            print(markdown_table(HEADER, rows[-1:]).splitlines()[-1], flush=True)

    table = markdown_table(HEADER, rows)
    overhead = median(dspy_s) / median(bare_s) - 1
    within = median([o / i for o, i in zip(outside_s, inner_s)])
    summary = (f"separate calls: median bare {median(bare_s):.2f} s, median DSPy {median(dspy_s):.2f} s, "
               f"overhead {overhead * 100:+.1f} % (median per-report ratio {median(ratios):.3f}); "
               f"within the DSPy call: {median(outside_s) * 1000:.0f} ms outside llama.cpp per report, "
               f"overhead {within * 100:+.2f} % of the llama.cpp time. Target <= +10 %")
    print("\n" + table + "\n\n" + summary)
    if args.update_results:
        text = (f"`.venv/bin/python bench/bench_llm_overhead.py --reports {args.reports} --threads {args.threads} --task {args.task}`; "
                f"model {model_label(model)}, {at_start}, {load_at_end()}.\n\n"
                f"{table}\n\n{summary}.")
        update_results("Overhead: DSPy program vs bare llama.cpp call", text)


if __name__ == "__main__":
    main()
