"""Resident memory while indexing VAERS narratives, read as the run goes: is the peak flat as the corpus grows?

One `IncidentIndex.add` of the first N narratives into a fresh index, in this process, with the model
loaded and warmed first. Every --every reports it prints resident memory and the peak so far, both
over the start of `add`. `--allocator` runs the same with another policy for torch's freed buffers,
to compare against (each variant in its own process: run the script once per variant):
  step-trim  what the index does: glibc `malloc_trim` after every step (a few batches embedded and written)
  trim-every-8  the same after every eighth step only
  slack-64, slack-128  the same only once resident memory has grown 64 (128) MiB over where the last
             trim left it, so the next steps can reuse freed buffers instead of faulting them back in
  none       no trimming at all
  mmap-8mib  no trimming; every buffer of 8 MiB or more in its own mapping (`mallopt(M_MMAP_THRESHOLD)`)

`--vectors random` replaces the model by unit random vectors (seeded, 384 dimensions): no embedding,
so what remains is what the rest of the pipeline and the two indexes hold; at the end the script
drops the BM25 index, then closes Chroma, and prints resident memory after each, beside the size
of Chroma's HNSW files (the vector index hnswlib keeps in memory).

Usage: .venv/bin/python bench/bench_index_memory.py [--n 16000] [--every 2048] [--allocator step-trim] [--vectors model|random]
Skips (exit 0) when ../shared/data is absent.
"""

from __future__ import annotations

import argparse
import ctypes
import itertools
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VAERS = Path("vaers") / "vaers_1990_1996.csv"
META = ["RECVDATE", "STATE", "SEX", "DIED", "HOSPITAL"]
_M_MMAP_THRESHOLD = -3  # glibc malloc.h


def _status_mib(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(key)


def _trimmed_rss() -> float:
    import gc

    from retrieval.memory import release_freed_memory

    gc.collect()
    release_freed_memory()
    return _status_mib("VmRSS")


class RandomVectors:
    """Stands in for the embedder: a unit random vector per text, no model."""

    dim, batch_size, name, fingerprint, model_path, backend = 384, 32, "random-vectors", "random-vectors", "", "none"

    def encode(self, texts):
        import numpy as np

        rng = np.random.default_rng(len(texts))
        vectors = rng.standard_normal((len(texts), self.dim)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def describe(self) -> dict:
        return {"name": self.name, "path": "", "fingerprint": self.fingerprint, "backend": "none"}


def _set_allocator(name: str) -> None:
    import retrieval.index

    if name == "step-trim":
        return
    if name.startswith("slack-"):
        slack, trim, floor = int(name.split("-")[1]) * 2**20, retrieval.index.release_freed_memory, [0]

        def trim_over_slack() -> bool:
            if _status_mib("VmRSS") * 2**20 - floor[0] <= slack:
                return False
            trim()
            floor[0] = _status_mib("VmRSS") * 2**20
            return True

        retrieval.index.release_freed_memory = trim_over_slack
        return
    if name == "trim-every-8":
        steps = itertools.count(1)
        trim = retrieval.index.release_freed_memory
        retrieval.index.release_freed_memory = lambda: next(steps) % 8 == 0 and trim()
        return
    retrieval.index.release_freed_memory = lambda: False
    if name == "mmap-8mib":
        ctypes.CDLL("libc.so.6").mallopt(_M_MMAP_THRESHOLD, 8 * 2**20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--n", type=int, default=16000)
    parser.add_argument("--every", type=int, default=2048)
    parser.add_argument("--allocator", choices=("step-trim", "trim-every-8", "slack-64", "slack-128", "none", "mmap-8mib"), default="step-trim")
    parser.add_argument("--vectors", choices=("model", "random"), default="model")
    args = parser.parse_args()
    path = args.data / VAERS
    if not path.is_file():
        print(f"skipped: {path} not found")
        return 0
    from incident_lens.inputs.report_files import open_reports
    from retrieval.embedder import Embedder
    from retrieval.index import IncidentIndex

    _set_allocator(args.allocator)
    embedder = Embedder() if args.vectors == "model" else RandomVectors()
    embedder.encode(["warm up"])
    reports = open_reports(path, text_cols=["SYMPTOM_TEXT"], id_col="VAERS_ID", limit=args.n)  # checked here, streamed by add
    marks: list[tuple[int, float, float]] = []

    def progress(done: int, total: int) -> None:
        if done and (done // args.every > len(marks) or done == total):
            marks.append((done, _status_mib("VmRSS") - start_rss, _status_mib("VmHWM") - start_rss))

    # Peak reset to the present, so the file read and model load before it do not count.
    Path("/proc/self/clear_refs").write_text("5")
    start_rss = _status_mib("VmRSS")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        with IncidentIndex.open(Path(tmp), "vaers", embedder, writable=True) as index:
            index.add(reports, meta_cols=META, progress=progress)
            seconds = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_SELF)
            held = {"after indexing": _trimmed_rss() - start_rss}
            index._lexical = None
            held["BM25 index dropped"] = _trimmed_rss() - start_rss
        del index
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
        held["Chroma closed too"] = _trimmed_rss() - start_rss
        hnsw = sum(p.stat().st_size for p in (Path(tmp) / "vaers" / "chroma").glob("*/*.bin")) / 2**20
    print(f"\n{len(reports)} VAERS narratives, {args.vectors} vectors, allocator {args.allocator}: {seconds:.1f} s wall, "
          f"{after.ru_utime - usage.ru_utime:.1f} s user CPU, {after.ru_stime - usage.ru_stime:.1f} s system CPU, "
          f"{after.ru_minflt - usage.ru_minflt} page faults; memory over the start of indexing ({start_rss:.0f} MiB)")
    print("| reports done | resident MiB | peak so far MiB |")
    print("|---|---|---|")
    for done, rss, peak in marks:
        print(f"| {done} | {rss:.0f} | {peak:.0f} |")
    print(f"\nResident memory over the start, heap trimmed (Chroma's HNSW files: {hnsw:.0f} MiB)")
    print("| state | resident MiB |")
    print("|---|---|")
    for state, mib in held.items():
        print(f"| {state} | {mib:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
