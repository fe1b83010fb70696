"""Shared set-up for the LLM benchmarks: the stand-in model, demo reports, a DSPy LM, tables, RESULTS.md.

Usage (from a bench script): `model = ensure_model(args.model, args.size)`; `lm, engine = make_lm(model, threads=2)`;
`texts = demo_reports(task, n, start)`; `print(markdown_table(rows))`; `update_results(section_text)`.
The model is a random-weight llama GGUF written by `incident_lens.llm.gguf_writer` (1B, Q8_0 by default):
its answers are noise, its cost per token is a real 1B model's.
"""

from __future__ import annotations

import re
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
RESULTS = REPO / "bench" / "RESULTS.md"
SECTION = "## LLM programs"
DEFAULT_MODEL = OUT / "models" / "random-1b.gguf"
DEMO = REPO / "data" / "demo" / "incidents.csv"

sys.path.insert(0, str(REPO / "src"))


def ensure_model(path: Path, size: str = "1b") -> Path:
    from incident_lens.llm.gguf_writer import write_test_gguf

    path = Path(path)
    if not path.is_file():
        print(f"writing the {size} stand-in model to {path} ...", flush=True)
        write_test_gguf(path, size=size)
    return path


def make_lm(model: Path, threads: int = 2, n_ctx: int = 4096, home: Path | None = None):
    """(dspy.LM without answer cache, its LlamaCppEngine); the answer cache would hide the model's cost."""
    import dspy

    from incident_lens.llm import LlamaCppEngine

    engine = LlamaCppEngine(model, n_ctx=n_ctx, n_threads=threads, cache_dir=(home or OUT / "ws") / "cache")
    lm = dspy.LM(engine.model_string, engine=engine, cache=False, num_retries=0, temperature=0.0, max_tokens=1024)
    return lm, engine


def demo_frame():
    import pandas as pd

    return pd.read_csv(DEMO, dtype=str, keep_default_na=False)


def report_text(row, task) -> str:
    from incident_lens.inputs.report_files import join_fields

    return join_fields(row, list(task.input_fields))


def demo_reports(task, n: int, start: int = 0) -> list[tuple[str, str]]:
    """(id, text) of n demo reports from row `start`, with the task's fields joined as `label` does."""
    frame = demo_frame().iloc[start : start + n]
    return [(row["id"], report_text(row, task)) for _, row in frame.iterrows()]


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def markdown_table(header: list[str], rows: list[list]) -> str:
    def cell(v):
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    import os
    import platform

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{platform.machine()}, {os.cpu_count()} CPUs, load average {load:.1f} at start"


def load_at_end() -> str:
    import os

    return f"load average {os.getloadavg()[0]:.1f} at the end (other jobs share this machine: absolute times vary, ratios are within one run)"


def update_results(subsection: str, text: str) -> None:
    """Replace (or add) `### subsection` inside the `## LLM programs` section of bench/RESULTS.md; other sections untouched."""
    content = RESULTS.read_text(encoding="utf-8") if RESULTS.is_file() else "# Benchmark results\n"
    if SECTION not in content:
        content = content.rstrip("\n") + f"\n\n{SECTION}\n"
    start = content.index(SECTION)
    following = re.search(r"^## ", content[start + len(SECTION):], flags=re.M)
    end = start + len(SECTION) + following.start() if following else len(content)
    section = content[start:end]
    block = f"### {subsection}\n\n{text.strip()}\n\n"
    pattern = re.compile(rf"^### {re.escape(subsection)}\n.*?(?=^### |\Z)", flags=re.M | re.S)
    section = pattern.sub(lambda _: block, section) if pattern.search(section) else section.rstrip("\n") + "\n\n" + block
    RESULTS.write_text(content[:start] + section.rstrip("\n") + "\n" + ("\n" + content[end:] if end < len(content) else ""), encoding="utf-8")
