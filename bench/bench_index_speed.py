"""Indexing throughput, peak memory and query latency on VAERS narratives.

For each size N: (a) bare `SentenceTransformer.encode` of the N texts, (b) the whole index pipeline
(check the file, then stream it a chunk at a time: hash, embed, write Chroma and BM25) into a fresh index; each in its
own process, so peak memory is that run's alone. Model loading is outside both timings. Then, on
the largest index, warm query latency (embedding the query included) for each mode.

Two ways to time the two sides (`--method`):
  paired    (default) the two processes take turns: each time the pipeline is about to embed a step
            of texts (128), it hands them to the bare process, which encodes the same texts while the
            pipeline waits; then the pipeline embeds them, writes them and goes on to its next step.
            One side runs at a time, about a second each, so a change in the machine's speed (runs of
            identical work on this 2-core box differed by up to 30 %) hits both sides alike. Bare
            time is the sum of its encodes; pipeline time is its whole run less its waits.
  separate  one whole run of each side after the other; the bare side encodes all N texts in one call.

Usage: .venv/bin/python bench/bench_index_speed.py [--sizes 4000,16000,all] [--repeats 1] [--queries 200] [--method paired]
("all": every non-empty narrative of vaers_1990_1996.csv; the queries are then the openings of its last ones.)
Skips (exit 0) when ../shared/data is absent.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VAERS = Path("vaers") / "vaers_1990_1996.csv"
META = ["RECVDATE", "STATE", "SEX", "DIED", "HOSPITAL"]
MODES = ("dense", "lexical", "hybrid")


def _memory() -> dict:
    """Current and peak resident memory of this process, MiB (Linux)."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields


def _cpu_seconds() -> float:
    """User + system CPU time of this process, all its threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _reports(path: Path):
    from incident_lens.inputs.report_files import load_reports

    return load_reports(path, text_cols=["SYMPTOM_TEXT"], id_col="VAERS_ID")


def _bare_model():
    """The same model as the index's, straight from sentence-transformers, loaded and warmed."""
    from sentence_transformers import SentenceTransformer

    from retrieval.embedder import default_model_path

    model = SentenceTransformer(str(default_model_path()), device="cpu")
    model.encode(["warm up"])
    return model


def child_bare(path: Path, batch_size: int) -> dict:
    model = _bare_model()
    texts = _reports(path).frame["text"].tolist()
    before = _memory()
    start, cpu = time.perf_counter(), _cpu_seconds()
    model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
    seconds = time.perf_counter() - start
    return {"n": len(texts), "seconds": seconds, "cpu": _cpu_seconds() - cpu, "rss_before": before["VmRSS"], "peak": _memory()["VmHWM"]}


def child_pipeline(path: Path, batch_size: int, home: Path, queries: Path | None) -> dict:
    from retrieval.embedder import Embedder

    embedder = Embedder(batch_size=batch_size)
    result = index_vaers(path, home, embedder)
    if queries:
        result.update(query_latency(home, embedder, queries))
    return result


def index_vaers(path: Path, home: Path, embedder) -> dict:
    """One whole `index` run of the file into a fresh index under `home`: time, CPU, memory, sizes."""
    from incident_lens.inputs.report_files import open_reports
    from retrieval.index import IncidentIndex

    embedder.encode(["warm up"])
    before = _memory()
    start, cpu = time.perf_counter(), _cpu_seconds()
    reports = open_reports(path, text_cols=["SYMPTOM_TEXT"], id_col="VAERS_ID")
    with IncidentIndex.open(home / "index", "vaers", embedder, writable=True) as index:
        summary = index.add(reports, meta_cols=META)
    seconds = time.perf_counter() - start
    return {"n": len(reports), "seconds": seconds, "cpu": _cpu_seconds() - cpu, "add_seconds": summary.seconds, "rss_before": before["VmRSS"], "peak": _memory()["VmHWM"],
            "disk_mib": sum(p.stat().st_size for p in (home / "index" / "vaers").rglob("*") if p.is_file()) / 2**20,
            # Chroma's HNSW segment: its files mirror the vector index hnswlib keeps in memory.
            "hnsw_mib": sum(p.stat().st_size for p in (home / "index" / "vaers" / "chroma").glob("*/*.bin")) / 2**20}


def query_latency(home: Path, embedder, queries: Path) -> dict:
    """Warm p50/p99 ms per mode over the queries in `queries` (the first 10 only warm up)."""
    from retrieval.index import IncidentIndex

    asks = json.loads(queries.read_text(encoding="utf-8"))
    index = IncidentIndex.open(home / "index", "vaers", embedder)
    result = {}
    for mode in MODES:
        for ask in asks[:10]:
            index.query(ask, k=10, mode=mode)  # warm: caches, lexical load
        times = []
        for ask in asks[10:]:
            t = time.perf_counter()
            index.query(ask, k=10, mode=mode)
            times.append(1000 * (time.perf_counter() - t))
        times.sort()
        result[f"{mode}_p50_ms"] = statistics.median(times)
        result[f"{mode}_p99_ms"] = times[min(len(times) - 1, int(round(0.99 * (len(times) - 1))))]
    return result


def paired_bare(conn, batch_size: int) -> None:
    """Bare side of a paired run: encode each list of texts handed over, until None; then report."""
    model = _bare_model()
    before = _memory()
    n, seconds, cpu = 0, 0.0, 0.0
    conn.send("ready")
    while (texts := conn.recv()) is not None:
        start, begin = time.perf_counter(), _cpu_seconds()
        model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
        seconds += time.perf_counter() - start
        cpu += _cpu_seconds() - begin
        n += len(texts)
        conn.send("done")
    conn.send({"n": n, "seconds": seconds, "cpu": cpu, "rss_before": before["VmRSS"], "peak": _memory()["VmHWM"]})


def paired_pipeline(conn, path: Path, batch_size: int, home: Path, queries: Path | None) -> None:
    """Pipeline side of a paired run: before each embedding step it hands the step's texts over and
    waits for its turn; the waits are taken out of its time. None marks the end of indexing."""
    from retrieval.embedder import Embedder

    class TakingTurns(Embedder):
        gating, waited, waited_cpu = False, 0.0, 0.0

        def encode(self, texts):
            if self.gating:
                start, cpu = time.perf_counter(), _cpu_seconds()
                conn.send(list(texts))
                conn.recv()
                self.waited += time.perf_counter() - start
                self.waited_cpu += _cpu_seconds() - cpu
            return super().encode(texts)

    embedder = TakingTurns(batch_size=batch_size)
    embedder.encode(["warm up"])
    embedder.gating = True
    result = index_vaers(path, home, embedder)
    embedder.gating = False
    result["seconds"] -= embedder.waited
    result["cpu"] -= embedder.waited_cpu
    conn.send(None)
    conn.recv()  # the bare side has finished: queries are timed with the machine to themselves
    if queries:
        result.update(query_latency(home, embedder, queries))
    conn.send(result)


def run_paired(subset: Path, batch_size: int, home: Path, queries: Path | None) -> tuple[dict, dict]:
    """Both sides in lockstep (see the module docstring); returns (bare, pipeline) results."""
    spawn = multiprocessing.get_context("spawn")  # fresh interpreters: each peak is its own
    bare_end, bare_conn = spawn.Pipe()
    pipe_end, pipe_conn = spawn.Pipe()
    bare = spawn.Process(target=paired_bare, args=(bare_end, batch_size))
    pipeline = spawn.Process(target=paired_pipeline, args=(pipe_end, subset, batch_size, home, queries))
    bare.start()
    bare_end.close()  # only the children hold their ends: a child that dies is then an EOFError here
    try:
        bare_conn.recv()  # "ready": model loaded
        pipeline.start()
        pipe_end.close()
        while (message := pipe_conn.recv()) is None or isinstance(message, list):
            if message is None:  # indexing done: the bare side reports and ends before the queries
                bare_conn.send(None)
                bare_result = bare_conn.recv()
                bare.join()
            else:
                bare_conn.send(message)
                bare_conn.recv()
            pipe_conn.send("go")
    except EOFError:
        raise SystemExit("a side of the paired run failed (its error is above)") from None
    pipeline.join()
    return bare_result, message


def run_separate(subset: Path, batch_size: int, home: Path, queries: Path | None, bare_first: bool) -> tuple[dict, dict]:
    """One whole run of each side, one after the other; returns (bare, pipeline) results."""
    def bare() -> dict:
        return run_child("bare", str(subset), "--batch-size", str(batch_size))

    def pipeline() -> dict:
        return run_child("pipeline", str(subset), str(home), str(queries or "-"), "--batch-size", str(batch_size))

    # Repeats alternate the order so a drift in machine load hits both sides alike.
    if bare_first:
        first = bare()
        return first, pipeline()
    first = pipeline()
    return bare(), first


def run_child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *args[-2:], "--child", *args[:-2]], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--sizes", default="4000,16000,all")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--method", choices=("paired", "separate"), default="paired")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)  # internal: one measured run
    args = parser.parse_args()
    path = args.data / VAERS
    if args.child:
        kind, subset = args.child[0], Path(args.child[1])
        if kind == "bare":
            result = child_bare(subset, args.batch_size)
        else:
            result = child_pipeline(subset, args.batch_size, Path(args.child[2]), Path(args.child[3]) if args.child[3] != "-" else None)
        print(json.dumps(result))
        return 0
    if not path.is_file():
        print(f"skipped: {path} not found")
        return 0
    from incident_lens.inputs.report_files import read_table

    rows = []
    vaers = read_table(path)
    vaers = vaers[vaers["SYMPTOM_TEXT"].str.strip() != ""]
    sizes = [len(vaers) if s == "all" else min(int(s), len(vaers)) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        # Queries: the opening words of narratives not in the largest index (when the largest is
        # every narrative, of the last ones: then each query's own report is in the index).
        queries = Path(tmp) / "queries.json"
        first = min(sizes[-1], len(vaers) - args.queries - 10)
        tail = vaers["SYMPTOM_TEXT"].iloc[first : first + args.queries + 10].tolist()
        queries.write_text(json.dumps([" ".join(t.split()[:12]) for t in tail]), encoding="utf-8")
        for n in sizes:
            # Both sides read the same first-N file (temporary, deleted with the folder).
            subset = Path(tmp) / f"vaers-{n}.csv"
            vaers.head(n).to_csv(subset, index=False)
            bare, pipe = [], []
            for r in range(args.repeats):
                home = Path(tmp) / f"ws-{n}-{r}"
                q = queries if (n == sizes[-1] and r == 0 and args.queries) else None
                if args.method == "paired":
                    b_run, p_run = run_paired(subset, args.batch_size, home, q)
                else:
                    b_run, p_run = run_separate(subset, args.batch_size, home, q, bare_first=r % 2 == 0)
                bare.append(b_run)
                pipe.append(p_run)
                print(f"  n={n} repeat {r}: bare {bare[-1]['seconds']:.1f} s ({bare[-1]['cpu']:.1f} s CPU), "
                      f"pipeline {pipe[-1]['seconds']:.1f} s ({pipe[-1]['cpu']:.1f} s CPU)", file=sys.stderr)
            b = statistics.median(x["seconds"] for x in bare)
            p = statistics.median(x["seconds"] for x in pipe)
            cpu_ratio = statistics.median(x["cpu"] for x in bare) / statistics.median(x["cpu"] for x in pipe)
            row = {"n": n, "bare_rate": n / b, "pipeline_rate": n / p, "ratio": b / p, "cpu_ratio": cpu_ratio,
                   "bare_peak_mib": max(x["peak"] for x in bare), "pipeline_before_mib": statistics.median(x["rss_before"] for x in pipe),
                   "pipeline_peak_mib": max(x["peak"] for x in pipe), "disk_mib": pipe[0]["disk_mib"], "hnsw_mib": pipe[0]["hnsw_mib"]}
            row["pipeline_growth_mib"] = row["pipeline_peak_mib"] - row["pipeline_before_mib"]
            row.update({k: v for k, v in pipe[0].items() if k.endswith("_ms")})
            rows.append(row)
    print(f"\nIndexing throughput (reports/s; medians of {args.repeats} run(s) per size; {args.method} method; model load excluded)")
    print("| reports | bare encode /s | index pipeline /s | pipeline / bare | same in CPU time | peak RSS bare MiB | peak RSS pipeline MiB | pipeline - bare MiB | pipeline growth over its start MiB | of which Chroma's HNSW index MiB | growth less HNSW MiB | index on disk MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['n']} | {r['bare_rate']:.1f} | {r['pipeline_rate']:.1f} | {r['ratio']:.2f} | {r['cpu_ratio']:.2f} | {r['bare_peak_mib']:.0f} | {r['pipeline_peak_mib']:.0f} | "
              f"{r['pipeline_peak_mib'] - r['bare_peak_mib']:.0f} | {r['pipeline_growth_mib']:.0f} | {r['hnsw_mib']:.0f} | "
              f"{r['pipeline_growth_mib'] - r['hnsw_mib']:.0f} | {r['disk_mib']:.0f} |")
    last = rows[-1]
    if "hybrid_p50_ms" in last:
        print(f"\nQuery latency at {last['n']} reports, k=10, warm, {args.queries} queries (query embedding included)")
        print("| mode | p50 ms | p99 ms |")
        print("|---|---|---|")
        for mode in MODES:
            print(f"| {mode} | {last[f'{mode}_p50_ms']:.1f} | {last[f'{mode}_p99_ms']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
