"""Prompt-prefix reuse: prompt tokens llama.cpp evaluates per report vs tokens sent, for few-shot and RAG programs.

Usage: .venv/bin/python bench/bench_llm_prefix.py [--model PATH.gguf (default: the bundled SmolLM2-135M)] [--reports 5]
       [--threads 2] [--task harm] [--index-rows 600] [--update-results]
Two programs label the same demo reports one after the other, as `incident-lens label` does:
  few-shot: the zero-shot labeller with 3 labelled demo reports as demos (fixed for every report);
  rag: the RAG labeller with the 3 most similar labelled reports from a Chroma index of demo reports.
The prompt is ordered instructions -> demos -> (retrieved examples + report), so the fixed part is a prefix
and llama.cpp's KV cache keeps it from one report to the next. Per report: tokens sent, tokens
llama.cpp evaluated (its own perf counter), and the report-specific part (tokens after the prefix all
reports share). Goal: evaluated within 10 % of the report-specific part.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench_llm_common import (
    DEFAULT_MODEL, load_at_end, demo_frame, demo_reports, ensure_model, machine, make_lm, model_label, markdown_table, median, report_text, update_results,
)


def common_prefix(a, b) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def perf_prompt_evals(llama) -> int:
    import llama_cpp

    return int(llama_cpp.llama_perf_context(llama._ctx.ctx).n_p_eval)


def few_shot_program(task, n_demos: int = 3):
    import dspy

    from programs import build_program

    program = build_program(task)
    frame = demo_frame().iloc[2000 : 2000 + n_demos]
    program.label.demos = [dspy.Example(report=report_text(row, task), label=row[task.label_column]) for _, row in frame.iterrows()]
    return program


def rag_program(task, index_rows: int, home: Path):
    from incident_lens.config import Settings
    from incident_lens.pipelines.indexing import index_file, open_index
    from incident_lens.pipelines.labelling import index_retriever
    from programs import build_program

    settings = Settings(home=home, threads=2)
    source = home / "indexed.csv"
    demo_frame().iloc[1000 : 1000 + index_rows].to_csv(source, index=False)
    started = time.perf_counter()
    index_file(settings, source, text_cols=None, meta_cols=[task.label_column], collection="bench")
    print(f"indexed {index_rows} demo reports in {time.perf_counter() - started:.1f} s", flush=True)
    index = open_index(settings, "bench")
    return build_program(task, "rag", retriever=index_retriever(index, task), k=3), index


def measure(name: str, program, lm, engine, reports) -> tuple[list[list], dict]:
    import dspy

    llama = engine.loaded.llama
    requests = []
    original = engine.complete

    def capture(request):
        requests.append(request)
        return original(request)

    engine.complete = capture
    llama.reset()  # start cold: the first report pays for the prefix
    prompts, rows = [], []
    with dspy.context(lm=lm):
        for report_id, text in reports:
            before = perf_prompt_evals(llama)
            started = time.perf_counter()
            program(report=text)
            seconds = time.perf_counter() - started
            tokens, _ = engine.render(requests[-1])
            prompts.append(tokens)
            call = engine.last_call
            rows.append({"report": report_id, "sent": len(tokens), "evaluated": call["prompt_tokens"] - call["reused_tokens"],
                         "perf_evaluated": perf_prompt_evals(llama) - before, "output": call["completion_tokens"], "seconds": seconds})
    engine.complete = original
    shared = min(common_prefix(prompts[0], p) for p in prompts[1:])
    table = []
    for row, tokens in zip(rows, prompts):
        specific = len(tokens) - shared
        table.append([name, row["report"], row["sent"], shared, specific, row["evaluated"], row["perf_evaluated"],
                      row["evaluated"] / specific, row["output"], row["seconds"]])
    steady = table[1:]  # the first report evaluates the prefix once for the whole run
    stats = {"program": name, "shared": shared, "sent": median([r[2] for r in steady]), "specific": median([r[4] for r in steady]),
             "evaluated": median([r[5] for r in steady]), "ratio": median([r[7] for r in steady]),
             "seconds": median([r[9] for r in steady]), "first_seconds": table[0][9]}
    return table, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--size", default="1b")
    parser.add_argument("--reports", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--task", default="harm")
    parser.add_argument("--index-rows", type=int, default=600)
    parser.add_argument("--update-results", action="store_true")
    args = parser.parse_args()

    from incident_lens.inputs.task_files import find_task

    model = ensure_model(args.model, args.size)
    at_start = machine()
    lm, engine = make_lm(model, threads=args.threads, n_ctx=8192)
    task = find_task(args.task)
    reports = demo_reports(task, args.reports, start=3000)
    print(f"model {model.name}, threads {args.threads}, {at_start}", flush=True)
    header = ["program", "report", "sent tok", "shared prefix", "report-specific", "evaluated (engine)", "evaluated (llama.cpp perf)",
              "evaluated/specific", "output tok", "seconds"]
    rows, summaries = [], []
    with tempfile.TemporaryDirectory() as tmp:
        table, stats = measure("few-shot (3 demos)", few_shot_program(task), lm, engine, reports)
        rows += table
        summaries.append(stats)
        print(markdown_table(header, table), flush=True)
        program, index = rag_program(task, args.index_rows, Path(tmp))
        try:
            table, stats = measure("rag (k=3)", program, lm, engine, reports)
        finally:
            index.close()
        rows += table
        summaries.append(stats)
        print(markdown_table(header, table), flush=True)

    summary_header = ["program", "shared prefix tok", "median sent", "median report-specific", "median evaluated",
                      "evaluated/specific", "median s/report", "first report s"]
    summary = markdown_table(summary_header, [[s["program"], s["shared"], s["sent"], s["specific"], s["evaluated"], s["ratio"],
                                               s["seconds"], s["first_seconds"]] for s in summaries])
    print("\n" + summary)
    print("\ngoal: evaluated/specific <= 1.10 (medians over reports 2..n; report 1 evaluates the shared prefix once)")
    if args.update_results:
        text = (f"`.venv/bin/python bench/bench_llm_prefix.py --reports {args.reports} --threads {args.threads} --task {args.task}`; "
                f"model {model_label(model)}, {at_start}, {load_at_end()}.\n\n{summary}\n\nPer report:\n\n{markdown_table(header, rows)}\n\n"
                "Goal: evaluated tokens per report within 10 % of the report-specific part (ratio <= 1.10). "
                "`evaluated (engine)` is the prompt length minus the prefix reused from the KV cache; "
                "`evaluated (llama.cpp perf)` is llama.cpp's own count of prompt tokens decoded in batches.")
        update_results("Prefix reuse across reports", text)


if __name__ == "__main__":
    main()
