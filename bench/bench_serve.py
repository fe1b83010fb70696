"""The web app's speed and weight: HTTP query latency (warm) against the same search called in process,
page weight, start-up time and the server's memory.

Each set is indexed first (idempotent: a second run re-uses the index), then `incident-lens serve` is
started as its own process on a free loopback port. Queries are the openings (8 words) of reports drawn
at random (seeded), each asked once through HTTP (GET /search, keep-alive, page read whole) and once in
this process through `IncidentIndex.query` (the reference), taking turns query by query so that load from
other jobs hits both sides alike. Every third query carries a metadata filter and a date range.
Ratio = HTTP / in-process, at p50 and p99. RSS is read from /proc: after start-up, and after the queries
with its peak (VmHWM).

Usage: flock /tmp/bench.lock .venv/bin/python bench/bench_serve.py [--sets demo,vaers] [--vaers-limit 16000]
       [--queries 200] [--data ../shared/data] [--workdir bench/out/serve] [--parts]
`--parts` times instead the parts of one filtered query inside the index (no server).
`--vaers-limit 0` indexes all 63,766 narratives (collection `vaers-all`, which `bench_themes.py scale-real` reads too).
The VAERS set is skipped with a message when ../shared/data is absent.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO_TEXT = ["description", "actions", "causes"]
DEMO_META = ["occurred_at", "care_setting", "specialty", "location", "category", "harm"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build(home: Path, name: str, path: Path, text_cols, id_col, meta, limit=None):
    from incident_lens.config import Settings
    from incident_lens.pipelines.indexing import index_file

    start = time.perf_counter()
    result = index_file(Settings(home=home), path, text_cols=text_cols, id_col=id_col, meta_cols=meta, collection=name, limit=limit)
    print(f"  index {name}: {result.summary} ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    return [str(i) for chunk in result.reports.chunks([]) for i in chunk["id"]]


def queries_for(home: Path, name: str, ids: list[str], n: int, seed: int = 7) -> list[dict]:
    """n queries: 8-word openings of random reports; every third with a filter on the first drop-down field and a date range."""
    from incident_lens.config import Settings
    from incident_lens.pipelines.indexing import open_index

    index = open_index(Settings(home=home), name)
    metas = [m for page in index.metadata_pages() for m in page]
    ids = sorted(ids)  # reports with an empty text are not in the index: index.get leaves them out below
    rng = random.Random(seed)
    records = {r.id: r for r in index.get(rng.sample(ids, min(2 * n, len(ids))))}
    chosen = list(records)[:n]  # in the sample's (random) order
    field = next((f for f in index.meta_fields if f != index.date_field and 1 < len({str(m.get(f)) for m in metas[:2000]}) <= 10), None)
    out = []
    for i, report_id in enumerate(chosen):
        words = records[report_id].text.split()
        query = {"q": " ".join(words[:8]), "k": "10", "mode": "hybrid", "_id": report_id}
        if i % 3 == 2 and field:
            query[f"f.{field}"] = str(records[report_id].metadata.get(field, ""))
            if index.date_field:
                query["since"] = "1900-01-01"
                query["until"] = "2100-12-31"
        out.append(query)
    return out


def rss_mib(pid: int) -> tuple[float, float]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, amount = line.split(":")
            values[key] = int(amount.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def run_set(home: Path, name: str, ids: list[str], n: int, warmup: int) -> list[dict]:
    import httpx

    from incident_lens.config import Settings
    from incident_lens.pipelines.indexing import open_index
    from incident_lens.web.forms import SearchParams

    queries = queries_for(home, name, ids, n + warmup)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    log = home / f"serve-{name}.log"
    started = time.perf_counter()
    with log.open("w") as handle:
        server = subprocess.Popen([sys.executable, "-c", "from incident_lens.cli import main; main()", "--home", str(home), "serve",
                                   "--collection", name, "--port", str(port)], stdout=handle, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            while True:
                if server.poll() is not None:
                    raise SystemExit(f"serve exited: see {log}")
                try:
                    if client.get("/search").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            startup = time.perf_counter() - started
            rss_start, _ = rss_mib(server.pid)
            index = open_index(Settings(home=home), name)
            fields, date_field = index.meta_fields, index.date_field

            def in_process(query):
                params, problems = SearchParams.from_query(_Query({k: v for k, v in query.items() if k != "_id"}), fields, date_field)
                assert not problems, problems
                return index.query(params.q, k=params.k, where=params.where(), mode=params.mode, since=params.since or None,
                                   until=params.until or None)

            for query in queries[:warmup]:
                client.get("/search", params={k: v for k, v in query.items() if k != "_id"})
                in_process(query)
            http_ms, direct_ms, sizes, filtered = [], [], [], []
            for i, query in enumerate(queries[warmup:]):
                filtered.append("since" in query or any(k.startswith("f.") for k in query))
                # Alternate which side goes first so neither always meets a warmer cache.
                for side in ((0, 1) if i % 2 == 0 else (1, 0)):
                    begin = time.perf_counter()
                    if side == 0:
                        page = client.get("/search", params={k: v for k, v in query.items() if k != "_id"})
                        assert page.status_code == 200, page.text[:300]
                        sizes.append(len(page.content))
                        http_ms.append(1000 * (time.perf_counter() - begin))
                    else:
                        in_process(query)
                        direct_ms.append(1000 * (time.perf_counter() - begin))
            report_page = client.get(f"/report/{queries[0]['_id']}")
            css = client.get("/static/app.css")
            js = client.get("/static/review.js")
            rss_end, rss_peak = rss_mib(server.pid)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    rows = []
    for kind, keep in (("all", lambda f: True), ("plain", lambda f: not f), ("filtered", lambda f: f)):
        http = [t for t, f in zip(http_ms, filtered) if keep(f)]
        direct = [t for t, f in zip(direct_ms, filtered) if keep(f)]
        rows.append({
            "set": name, "kind": kind, "reports": index.count(), "queries": len(http), "startup_s": startup,
            "http_p50": percentile(http, 50), "http_p99": percentile(http, 99),
            "direct_p50": percentile(direct, 50), "direct_p99": percentile(direct, 99),
            "ratio_p50": percentile(http, 50) / percentile(direct, 50), "ratio_p99": percentile(http, 99) / percentile(direct, 99),
            "search_kib": statistics.median(sizes) / 1024, "report_kib": len(report_page.content) / 1024,
            "static_kib": (len(css.content) + len(js.content)) / 1024,
            "rss_start": rss_start, "rss_end": rss_end, "rss_peak": rss_peak,
        })
    return rows


def filter_parts(home: Path, name: str, query: dict, repeats: int = 7) -> list[tuple[str, float]]:
    """Where a filtered query's time goes in the index: median ms of each part, over `repeats` runs.
    Reads the index's store directly (a measurement, not an API)."""
    from incident_lens.config import Settings
    from incident_lens.pipelines.indexing import open_index
    from retrieval.search import full_where

    index = open_index(Settings(home=home), name)
    chosen = {k[2:]: v for k, v in query.items() if k.startswith("f.")}
    where = full_where(chosen, query.get("since"), query.get("until"), index.meta_fields, index.date_field, name)
    vector = index.embedder.encode([query["q"]])[0]
    store = index._store

    def filtered_query(cold: bool):
        if cold:
            store._where_cache.clear()
        return index.query(query["q"], k=10, where=chosen, since=query.get("since"), until=query.get("until"))

    def ids_cold():
        store._where_cache.clear()
        return store.ids_where(where)

    share = len(store.ids_where(where)) / store.count()
    parts = [
        ("query, plain", lambda: index.query(query["q"], k=10)),
        ("query, filtered, a new filter (its ids not yet cached)", lambda: filtered_query(True)),
        ("query, filtered, a filter seen before", lambda: filtered_query(False)),
        ("Chroma nearest 50, plain", lambda: store.nearest(vector, 50, None)),
        ("Chroma nearest 50, Chroma's filter", lambda: store.nearest(vector, 50, where)),
        (f"Chroma nearest {int(100 / share) + 1} unfiltered (filter keeps {share:.0%}; then the cached ids filter them)",
         lambda: store.nearest(vector, int(100 / share) + 1, None)),
        ("Chroma ids matching the filter (not cached)", ids_cold),
    ]
    out = []
    for label, call in parts:
        call()
        times = []
        for _ in range(repeats):
            begin = time.perf_counter()
            call()
            times.append(1000 * (time.perf_counter() - begin))
        out.append((label, statistics.median(times)))
    return out


class _Query(dict):
    def getlist(self, key):
        return [self[key]] if key in self else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="demo,vaers")
    parser.add_argument("--vaers-limit", type=int, default=16000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--workdir", type=Path, default=REPO / "bench" / "out" / "serve")
    parser.add_argument("--parts", action="store_true", help="Only time the parts of a filtered query in the index (no server).")
    args = parser.parse_args()
    home = args.workdir.absolute()
    from incident_lens import offline

    offline.activate(home)
    rows = []
    for name in args.sets.split(","):
        if name == "demo":
            ids = build(home, "demo", REPO / "data" / "demo" / "incidents.csv", DEMO_TEXT, "id", DEMO_META)
        elif name == "vaers":
            path = args.data / "vaers" / "vaers_1990_1996.csv"
            if not path.is_file():
                print(f"skipping vaers: {path} not found", file=sys.stderr)
                continue
            name = f"vaers-{args.vaers_limit}" if args.vaers_limit else "vaers-all"
            ids = build(home, name, path, ["SYMPTOM_TEXT"], "VAERS_ID", ["RECVDATE", "STATE", "SEX", "DIED", "HOSPITAL", "RECOVD"], args.vaers_limit or None)
        else:
            raise SystemExit(f"unknown set {name!r}: demo or vaers")
        if args.parts:
            query = next(q for q in queries_for(home, name, ids, 3) if "since" in q or any(k.startswith("f.") for k in q))
            filters = ", ".join(f"{k}={v}" for k, v in query.items() if k.startswith("f.") or k in ("since", "until"))
            print(f"\n{name}, one filtered query ({filters}), median of 7:\n\n| part | ms |\n|---|---|")
            for label, ms in filter_parts(home, name, query):
                print(f"| {label} | {ms:.1f} |")
            continue
        rows.extend(run_set(home, name, ids, args.queries, args.warmup))
        print(f"  {rows[-3]}", file=sys.stderr)

    if not rows:
        return
    print(f"| set | which queries | reports | queries | start-up s | HTTP p50 ms | HTTP p99 ms | in-process p50 ms | in-process p99 ms | ratio p50 | ratio p99 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['set']} | {r['kind']} | {r['reports']:,} | {r['queries']} | {r['startup_s']:.1f} | {r['http_p50']:.1f} | {r['http_p99']:.1f} | "
              f"{r['direct_p50']:.1f} | {r['direct_p99']:.1f} | {r['ratio_p50']:.2f} | {r['ratio_p99']:.2f} |")
    print()
    print("| set | search page KiB (median, HTML) | report page KiB | CSS + JS KiB | requests per page | RSS after start MiB | RSS after queries MiB | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in (r for r in rows if r["kind"] == "all"):
        print(f"| {r['set']} | {r['search_kib']:.1f} | {r['report_kib']:.1f} | {r['static_kib']:.1f} | 2 (review: 3) | {r['rss_start']:.0f} | "
              f"{r['rss_end']:.0f} | {r['rss_peak']:.0f} |")


if __name__ == "__main__":
    main()
