"""Shared set-up for the LLM benchmarks: the model, demo reports, a DSPy LM, tables, RESULTS.md.

Usage (from a bench script): `model = ensure_model(args.model, args.size)`; `lm, engine = make_lm(model, threads=2)`;
`texts = demo_reports(task, n, start)`; `print(markdown_table(rows))`; `update_results(section_text)`.
The default model (`--model` not given) is the real bundled SmolLM2-135M-Instruct, resolved as every command
resolves it. `--model bench/out/models/random-1b.gguf` (RANDOM_MODEL) is written on first use as a random-weight
llama GGUF by `incident_lens.llm.gguf_writer` (1B, Q8_0): its answers are noise, its cost per token is a real 1B
model's; use it only where the cost of a bigger model is the point.
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
DEFAULT_MODEL = None  # the bundled SmolLM2-135M-Instruct
RANDOM_MODEL = OUT / "models" / "random-1b.gguf"
DEMO = REPO / "data" / "demo" / "incidents.csv"

sys.path.insert(0, str(REPO / "src"))


def bundled_model() -> Path:
    """The real default model, resolved and verified as `incident-lens` commands do (no `model_path`)."""
    from incident_lens.config import Settings
    from incident_lens.llm.default_model import resolve_model_path

    return resolve_model_path(Settings(home=OUT / "ws"))


def ensure_model(path: Path | None, size: str = "1b") -> Path:
    """`path`, or the bundled model when None; a missing `path` is written as a random-weight stand-in."""
    from incident_lens.llm.gguf_writer import write_test_gguf

    if path is None:
        return bundled_model()
    path = Path(path)
    if not path.is_file():
        print(f"writing the {size} stand-in model to {path} ...", flush=True)
        write_test_gguf(path, size=size)
    return path


def model_label(model: Path) -> str:
    """How RESULTS.md names the model: the bundled one is real, a file from `dev make-gguf` has random weights."""
    from incident_lens.llm.default_model import bundled_file

    size = f"{Path(model).stat().st_size / 1e6:,.0f} MB"
    if bundled_file() is not None and Path(model).resolve() == bundled_file().resolve():
        return f"`{Path(model).name}` (the bundled SmolLM2-135M-Instruct, real weights, {size})"
    if Path(model).name.startswith("random-"):
        return f"`{Path(model).name}` (random weights, {size}: cost only, not quality)"
    return f"`{Path(model).name}` ({size})"


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
