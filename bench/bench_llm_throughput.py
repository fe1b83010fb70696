"""Throughput of `incident-lens label` (the real pipeline: CSV in, rows out, manifest) in reports per minute.

Usage: .venv/bin/python bench/bench_llm_throughput.py [--model bench/out/models/random-1b.gguf] [--reports 5]
       [--threads 2] [--task harm] [--index-rows 600] [--update-results]
Runs `label_file` with the zero-shot and the RAG program on the same demo reports, each into a fresh
output file, and times the labelling loop (from the first report to the last; model loading, index
opening and the first report's shared-prefix evaluation are reported separately). 2 threads = the TRE box.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench_llm_common import DEFAULT_MODEL, load_at_end, demo_frame, ensure_model, machine, markdown_table, update_results


def timed_run(settings, reports: Path, task, out: Path, program: str) -> dict:
    from incident_lens.pipelines.labelling import label_file

    marks: dict[int, float] = {}

    def progress(done: int, total: int) -> None:
        marks[done] = time.perf_counter()

    started = time.perf_counter()
    summary = label_file(settings, reports, task, out, program=program, k=3, collection="bench", progress=progress)
    ended = time.perf_counter()
    n = max(marks)
    steady = (marks[n] - marks[1]) / (n - 1) if n > 1 else float("nan")
    return {"program": program, "reports": n, "ok": summary.counts.get("ok", 0), "setup_s": marks[0] - started,
            "first_s": marks[1] - marks[0], "steady_s": steady, "per_min": 60 / steady,
            "per_min_all": 60 * n / (marks[n] - marks[0]), "total_s": ended - started}


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

    from incident_lens.config import Settings
    from incident_lens.pipelines.indexing import index_file
    from incident_lens.inputs.task_files import find_task

    model = ensure_model(args.model, args.size)
    at_start = machine()
    task = find_task(args.task)
    print(f"model {model.name}, threads {args.threads}, {at_start}", flush=True)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        settings = Settings(home=home / "ws", model_path=model, threads=args.threads, n_ctx=8192)
        frame = demo_frame()
        indexed, reports = home / "indexed.csv", home / "reports.csv"
        frame.iloc[1000 : 1000 + args.index_rows].to_csv(indexed, index=False)
        frame.iloc[3000 : 3000 + args.reports].to_csv(reports, index=False)
        index_file(settings, indexed, meta_cols=[task.label_column], collection="bench")
        for program in ("zero-shot", "rag"):
            result = timed_run(settings, reports, task, home / f"{program}.csv", program)
            results.append(result)
            print(result, flush=True)

    header = ["program", "reports", "ok", "setup s", "first report s", "s/report (steady)", "reports/min (steady)", "reports/min (incl. first)"]
    rows = [[r["program"], r["reports"], r["ok"], r["setup_s"], r["first_s"], r["steady_s"], r["per_min"], r["per_min_all"]] for r in results]
    table = markdown_table(header, rows)
    ratio = results[1]["steady_s"] / results[0]["steady_s"]
    line = f"RAG costs {ratio:.2f}x the zero-shot time per report (retrieval plus the longer report-specific prompt)"
    print("\n" + table + "\n\n" + line)
    if args.update_results:
        text = (f"`.venv/bin/python bench/bench_llm_throughput.py --reports {args.reports} --threads {args.threads} --task {args.task}`; "
                f"model `{model.name}` (random weights), {at_start}, {load_at_end()}.\n\n{table}\n\n{line}. "
                "Steady state excludes the first report, which evaluates the shared instructions once per run.")
        update_results("Throughput on 2 threads", text)


if __name__ == "__main__":
    main()
