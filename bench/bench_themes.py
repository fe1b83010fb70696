"""Themes and emerging signals on real text: planted signals, agreement with known categories, speed
and memory of fitting from stored embeddings.

Parts (run one at a time, each under `flock /tmp/bench.lock`):
  index       embeds the benchmark sets into Chroma workspaces (idempotent; a re-run embeds nothing):
              VAERS (a seeded sample of --vaers-rows reports received in 1995-1996), MTSamples, the demo.
  planted     plants synthetic clusters of a new failure mode (a few dozen reports spread over the last
              weeks, three different modes) into the VAERS sample; for each mode, `emerging` at weekly end
              dates: is the planted theme the top flagged signal (recall), after how many weeks (delay);
              and how many themes are flagged on the same data with nothing planted (false alarms).
  categories  AMI / NMI of themes against the demo's `category` and MTSamples' `medical_specialty`
              (on the reports in a theme, with coverage beside it), keyword NPMI and diversity.
  scale-real  the whole `incident-lens themes` job (stored vectors read from Chroma, fit, keywords,
              representatives, saved) on the index of all 63,766 VAERS narratives that `bench_serve.py
              --vaers-limit 0` builds, on 4k / 16k / 32k / all of them (the reports received up to a date),
              each in its own process: seconds, peak RSS; at all, the default fit-on-a-sample path (HDBSCAN
              fits 50,000, the rest join by centroid) with three seeds and the ARI between them.
  scale-1m    the path to 1M reports: the 63,766 real VAERS vectors of that index and jittered copies of
              them (synthetic) up to --big-n, fitted on a seeded 50,000 sample and the rest joined by
              centroid, in its own process per seed: seconds, peak RSS, coverage, ARI between two seeds.
  joining     how far reports HDBSCAN left as noise should join themes (`--join close|loose|all`):
              coverage and AMI on the demo `category` and MTSamples specialty (indexed here if
              missing), coverage on 16,069 real VAERS reports (the `scale-real` index up to 1992-05-18).
  scale       time and peak memory of fitting at 4k / 16k (real VAERS vectors) and 64k (the 16k real
              vectors and three jittered copies: synthetic), hdbscan vs scikit-learn's HDBSCAN, and the
              fit-on-a-sample path (64k, 16k sample, three seeds: time, ARI between seeds, coverage).

Usage: PYTHONPATH=src:. python bench/bench_themes.py index|planted|categories|scale|scale-real|scale-1m|joining [--data ../shared/data]
Skips (exit 0) when the data folder is absent. Workspaces go to bench/out/themes/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out" / "themes"
SEED = 0

# Three new failure modes, written many ways (slots filled at random), in the style of VAERS narratives.
MODES = {
    "needle-detach": [
        "Needle detached from the {syringe} hub during injection of {vax}; {part} of the dose lost, {after}.",
        "While giving {vax} the needle separated from the {syringe} and vaccine sprayed onto the nurse; {after}.",
        "{Vax} given with the new {syringe}: needle came off in the arm and had to be removed with forceps; {after}.",
        "{Age} yo {sex} - {syringe} needle disconnected mid injection ({vax}), dose repeated; {after}.",
        "Reported by clinic: needle hub of {syringe} cracked and detached during {vax} administration. {After}.",
    ],
    "frozen-vials": [
        "{Vax} given from vials stored in a refrigerator later found at minus {temp} C overnight; {after}.",
        "Clinic fridge thermostat failed, {vax} vials frozen; {n} patients vaccinated before it was noticed. {After}.",
        "Pt received {vax} that had been frozen (fridge log showed {temp} below zero); revaccination advised; {after}.",
        "Vaccine ({vax}) administered from a frozen lot after the cold chain alarm did not sound; {after}.",
        "{Age} yo {sex} given {vax} from vials with ice crystals after fridge failure. {After}.",
    ],
    "lookalike": [
        "Adult formulation of {vax} given to a {age} yo child in error - look-alike packaging of the new cartons; {after}.",
        "Wrong vaccine: {vax} adult dose selected instead of paediatric, boxes look the same since the supplier change; {after}.",
        "{Age} yo {sex} received adult-strength {vax}; nurse says the new labels are almost identical. {After}.",
        "Medication error: similar cartons of adult and pediatric {vax} stored together, child given adult dose; {after}.",
        "Look-alike vials of {vax} (adult / pediatric) confused during clinic; {after}.",
    ],
}
SLOTS = {
    "syringe": ["prefilled syringe", "new prefilled syringe", "pre-filled syringe", "single-dose syringe"],
    "vax": ["DTaP", "hepatitis B vaccine", "MMR", "influenza vaccine", "Td", "HIB vaccine", "IPV"],
    "part": ["about half", "most", "some", "an unknown amount"],
    "after": ["no reaction reported", "site sore and red next day", "mild fever that evening", "pt well at follow up",
              "local swelling 3 cm", "patient anxious but no adverse event", "recovered"],
    "age": [str(a) for a in (2, 4, 5, 11, 15, 34, 45, 67)],
    "sex": ["M", "F", "male", "female"],
    "temp": ["4", "6", "8", "10"],
    "n": ["3", "5", "7", "12"],
}


def _fill(template: str, rng) -> str:
    import re

    def slot(match):
        name = match.group(1)
        value = rng.choice(SLOTS[name.lower()])
        return value[0].upper() + value[1:] if name[0].isupper() else value

    return re.sub(r"\{(\w+)\}", slot, template)


def planted_reports(mode: str, n: int, start: date, weeks: int, rng) -> pd.DataFrame:
    """`n` synthetic reports of `mode`, dated evenly at random over `weeks` weeks from `start`."""
    templates = MODES[mode]
    days = np.sort(rng.integers(0, weeks * 7, n))
    rows = [(f"PLANT-{mode}-{i:03d}", _fill(templates[rng.integers(len(templates))], rng), str(start + timedelta(days=int(d))))
            for i, d in enumerate(days)]
    return pd.DataFrame(rows, columns=["id", "text", "date"])


def settings_for(home: Path):
    from incident_lens.config import Settings

    return Settings(home=home)


def add_frame(home: Path, name: str, frame: pd.DataFrame, meta: list[str], date_col: str | None) -> None:
    from incident_lens.pipelines.indexing import open_index

    with open_index(settings_for(home), name, writable=True) as index:
        summary = index.add(frame, meta_cols=meta, date_col=date_col)
    print(f"  {name}: {summary}", file=sys.stderr)


def vaers_frame(data: Path, rows: int) -> pd.DataFrame:
    frame = pd.read_csv(data / "vaers" / "vaers_1990_1996.csv", dtype=str, keep_default_na=False)
    frame["date"] = pd.to_datetime(frame["RECVDATE"], format="%m/%d/%Y").dt.strftime("%Y-%m-%d")
    frame = frame[(frame["date"] >= "1995-01-01") & (frame["SYMPTOM_TEXT"].str.strip() != "")]
    frame = frame.sample(n=min(rows, len(frame)), random_state=SEED)
    return pd.DataFrame({"id": "V" + frame["VAERS_ID"], "text": frame["SYMPTOM_TEXT"], "date": frame["date"]})


def part_index(args) -> None:
    vaers = vaers_frame(args.data, args.vaers_rows)
    add_frame(OUT / "vaers", "vaers", vaers, ["date"], "date")
    index_category_sets(args)


def index_category_sets(args) -> None:
    """The MTSamples and demo indexes that `categories` and `joining` score against known categories."""
    from incident_lens.inputs.report_files import load_reports

    mt = pd.read_csv(args.data / "mtsamples" / "mtsamples_dev.csv", dtype=str, keep_default_na=False)
    mt = mt[mt["transcription"].str.strip() != ""]
    add_frame(OUT / "mtsamples", "mtsamples", pd.DataFrame({"id": mt["note_id"], "text": mt["transcription"],
                                                           "specialty": mt["medical_specialty"]}), ["specialty"], None)
    demo = load_reports(REPO / "data" / "demo" / "incidents.csv", ["description", "actions", "causes"], "id").frame
    meta = pd.read_csv(REPO / "data" / "demo" / "incidents.csv", dtype=str, keep_default_na=False).set_index("id")
    demo = demo[["id", "text"]].assign(category=meta.loc[demo["id"], "category"].to_numpy(), occurred_at=meta.loc[demo["id"], "occurred_at"].to_numpy())
    add_frame(OUT / "demo", "incidents", demo, ["category", "occurred_at"], "occurred_at")


def stored(home: Path, name: str, texts: bool = True):
    from incident_lens.pipelines.indexing import open_index
    from incident_lens.themes.corpus import sorted_corpus

    with open_index(settings_for(home), name) as index:
        raw = index.stored_vectors(texts=texts)
    return sorted_corpus(raw), raw


# --- planted signals -------------------------------------------------------------------------------

def _key(day: date) -> int:
    return day.year * 10_000 + day.month * 100 + day.day


def part_planted(args) -> None:
    from incident_lens.themes.emerging import Span, emerging_signals
    from incident_lens.themes.fitting import FitSettings, fit_themes
    from retrieval.embedder import Embedder

    corpus, _ = stored(OUT / "vaers", "vaers", texts=False)
    last = date(1996, 12, 31)
    start = last - timedelta(weeks=args.weeks)  # the planted reports begin here
    embedder = Embedder()
    fit_settings = FitSettings(min_size=args.min_size, threads=2)
    rows = []

    def run(vectors, dates, planted_mask, end: date):
        # What `emerging --since` would select: the window and the baseline before it, nothing older.
        keep = (dates <= _key(end)) & (dates >= _key(end - timedelta(weeks=56)))
        fit = fit_themes(vectors[keep], fit_settings)
        span = Span.ending(dates[keep], 28, 364, str(end))
        signals = emerging_signals(fit.labels, dates[keep], list(range(fit.n_themes)), span, 3, fit.centroids, core=fit.core)
        flagged = [s for s in signals if s.flagged]
        hit = False
        if planted_mask is not None and flagged:
            top = flagged[0].theme
            mine = fit.labels == top
            planted_here = planted_mask[keep]
            hit = (planted_here & mine).sum() >= 0.5 * max(planted_here.sum(), 1) and planted_here[mine].mean() >= 0.5
        return bool(hit), len(flagged), fit.n_themes, float((fit.labels < 0).mean())

    ends = [start + timedelta(weeks=w) for w in range(1, args.weeks + 1)]
    for mode in MODES:
        rng = np.random.default_rng(SEED + len(mode))
        plants = planted_reports(mode, args.plant, start, args.weeks, rng)
        vectors = np.vstack([corpus.vectors, embedder.encode(plants["text"].tolist())]).astype(np.float32)
        dates = np.concatenate([corpus.dates, [int(d.replace("-", "")) for d in plants["date"]]])
        mask = np.concatenate([np.zeros(len(corpus), bool), np.ones(len(plants), bool)])
        for week, end in enumerate(ends, start=1):
            t = time.perf_counter()
            hit, n_flagged, k, none = run(vectors, dates, mask, end)
            rows.append({"mode": mode, "week": week, "planted_so_far": int((dates[mask] <= _key(end)).sum()), "top_is_planted": hit,
                         "flagged": n_flagged, "themes": k, "in_no_theme": round(none, 3), "seconds": round(time.perf_counter() - t, 1)})
            print(json.dumps(rows[-1]), file=sys.stderr)
    null = []
    for week, end in enumerate(ends, start=1):
        _, n_flagged, k, _ = run(corpus.vectors, corpus.dates, None, end)
        null.append({"week": week, "end": str(end), "flagged": n_flagged, "themes": k})
        print(json.dumps(null[-1]), file=sys.stderr)
    frame = pd.DataFrame(rows)
    print(f"\nplanted signals: {len(corpus):,} VAERS reports (received 1995-1996, seeded sample) + {args.plant} planted reports per mode "
          f"over the last {args.weeks} weeks; window 4 weeks, baseline 52 weeks, min size {args.min_size}\n")
    print("| mode | planted by week 1..N | top flagged theme is the planted one, by week | delay (weeks to first hit) | flagged per run |")
    print("| --- | --- | --- | --- | --- |")
    for mode, part in frame.groupby("mode", sort=False):
        hits = part["top_is_planted"].tolist()
        delay = next((w for w, h in zip(part["week"], hits) if h), None)
        print(f"| {mode} | {', '.join(map(str, part['planted_so_far']))} | {''.join('x' if h else '.' for h in hits)} | "
              f"{delay if delay else 'never'} | {part['flagged'].mean():.1f} |")
    final = frame[frame["week"] == args.weeks]["top_is_planted"].mean()
    at4 = frame[frame["week"] == min(4, args.weeks)]["top_is_planted"].mean()
    print(f"\nrecall of the planted theme at the top: {at4:.2f} at week 4, {final:.2f} at week {args.weeks}")
    print(f"nothing planted: flagged themes per run {np.mean([n['flagged'] for n in null]):.2f} "
          f"(runs: {', '.join(str(n['flagged']) for n in null)}); themes per fit {np.mean([n['themes'] for n in null]):.0f}")
    print(f"seconds per fit + test: {frame['seconds'].median():.1f} (median)")


# --- known categories ------------------------------------------------------------------------------

def npmi_and_diversity(texts: list[str], labels: np.ndarray, k: int, top: int = 10) -> tuple[float, float]:
    """Mean NPMI of keyword pairs (document co-occurrence over the same reports) and the share of
    distinct words among all themes' top-`top` keywords (unigrams of the keywords)."""
    from sklearn.feature_extraction.text import CountVectorizer

    from incident_lens.themes.keywords import analyser, field_labels, theme_keywords

    keywords = theme_keywords(texts, labels, k, top=top * 3)
    words = [[w for w, _ in kw if " " not in w][:top] for kw in keywords]
    vectorizer = CountVectorizer(analyzer=analyser(labels=field_labels(texts)), binary=True)
    present = vectorizer.fit_transform(texts).tocsc()
    vocab = vectorizer.vocabulary_
    n = present.shape[0]
    scores = []
    for theme_words in words:
        cols = [present[:, vocab[w]].toarray().ravel().astype(bool) for w in theme_words if w in vocab]
        for i in range(len(cols)):
            for j in range(i + 1, len(cols)):
                pi, pj, pij = cols[i].mean(), cols[j].mean(), (cols[i] & cols[j]).sum() / n
                scores.append(-1.0 if pij == 0 else np.log(pij / (pi * pj)) / -np.log(pij) if pij < 1 else 1.0)
    all_words = [w for ws in words for w in ws]
    return float(np.mean(scores)) if scores else float("nan"), len(set(all_words)) / max(len(all_words), 1)


def part_categories(args) -> None:
    from sklearn.metrics import adjusted_mutual_info_score as ami, normalized_mutual_info_score as nmi

    from incident_lens.themes.fitting import FitSettings, fit_themes

    print("| set | reports | classes | min size | themes | coverage (in a theme) | AMI on covered | NMI on covered | AMI all (no theme = a class) | HDBSCAN only: coverage / AMI | keyword NPMI | keyword diversity |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for home, name, field in ((OUT / "demo", "incidents", "category"), (OUT / "mtsamples", "mtsamples", "specialty")):
        corpus, raw = stored(home, name)
        meta = {i: m for i, m in zip(raw.ids, raw.metadata)}
        truth = np.asarray([meta[i][field] for i in corpus.ids])
        for min_size in args.min_sizes:
            fit = fit_themes(corpus.vectors, FitSettings(min_size=min_size, threads=2))
            covered = fit.labels >= 0
            core = fit.core
            npmi, diversity = npmi_and_diversity(corpus.texts, fit.labels, fit.n_themes)
            print(f"| {name} `{field}` | {len(corpus):,} | {len(set(truth))} | {min_size} | {fit.n_themes} | {covered.mean():.2f} | "
                  f"{ami(truth[covered], fit.labels[covered]):.3f} | {nmi(truth[covered], fit.labels[covered]):.3f} | "
                  f"{ami(truth, fit.labels):.3f} | {core.mean():.2f} / {ami(truth[core], fit.labels[core]):.3f} | {npmi:.3f} | {diversity:.2f} |",
                  flush=True)


# --- speed and memory ------------------------------------------------------------------------------

def _peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM; ru_maxrss would carry the parent's peak over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(args) -> None:
    """One fit in this process (spawned by `scale`): prints seconds, peak RSS and the fit's figures."""
    from incident_lens.themes.fitting import FitSettings, fit_themes

    vectors = np.load(args.vectors, mmap_mode="r")[: args.n]
    vectors = np.ascontiguousarray(vectors)
    before = _peak_rss_mib()
    t = time.perf_counter()
    fit = fit_themes(vectors, FitSettings(min_size=args.min_size, method=args.method, seed=args.seed, max_fit_rows=args.sample, threads=2))
    seconds = time.perf_counter() - t
    np.save(args.labels_out, fit.labels)
    print(json.dumps({"seconds": round(seconds, 2), "peak_rss_mib": round(_peak_rss_mib(), 1),
                      "rss_before_fit_mib": round(before, 1), "themes": fit.n_themes,
                      "coverage": round(float((fit.labels >= 0).mean()), 3), "fitted_rows": fit.fitted_rows}))


def part_scale(args) -> None:
    from sklearn.metrics import adjusted_rand_score

    t = time.perf_counter()
    corpus, _ = stored(OUT / "vaers", "vaers", texts=False)
    read_s = time.perf_counter() - t
    real = corpus.vectors
    rng = np.random.default_rng(SEED)
    copies = [real] + [real + rng.normal(scale=0.02, size=real.shape).astype(np.float32) for _ in range(3)]
    big = np.vstack(copies)
    big /= np.linalg.norm(big, axis=1, keepdims=True)
    # Real rows first, so the 4k and 16k sizes are real vectors only.
    path = OUT / "scale-vectors.npy"
    np.save(path, big.astype(np.float32))
    print(f"read {len(real):,} stored VAERS vectors from Chroma in {read_s:.1f} s; 64k = those + 3 jittered copies (noise sd 0.02, re-normalised)\n")
    print("| reports | vectors | method | sample | seed | seconds | peak RSS MiB (before the fit) | themes | in a theme |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    labels = {}
    plan = [(4000, "hdbscan", 0, 0), (4000, "sklearn", 0, 0), (16000, "hdbscan", 0, 0), (16000, "sklearn", 0, 0),
            (64000, "hdbscan", 0, 0), (64000, "hdbscan", 16000, 1), (64000, "hdbscan", 16000, 2), (64000, "hdbscan", 16000, 3)]
    if args.with_sklearn_64k:
        plan.insert(5, (64000, "sklearn", 0, 0))
    for n, method, sample, seed in plan:
        n = min(n, len(big))
        out = OUT / f"labels-{n}-{method}-{sample}-{seed}.npy"
        cmd = [sys.executable, __file__, "_child", "--vectors", str(path), "--n", str(n), "--method", method, "--min-size", str(args.min_size),
               "--sample", str(sample or 10**9), "--seed", str(seed), "--labels-out", str(out)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.child_timeout)
        if done.returncode != 0:
            print(f"| {n:,} | | {method} | | | failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode} | | | |")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        labels[(n, method, sample, seed)] = np.load(out)
        kind = "real" if n <= len(real) else "real + jittered"
        print(f"| {n:,} | {kind} | {method} | {sample or 'all'} | {seed if sample else '-'} | {r['seconds']} | {r['peak_rss_mib']} ({r['rss_before_fit_mib']}) | {r['themes']} | {r['coverage']} |", flush=True)
    seeds = [labels[k] for k in sorted(labels) if k[0] == 64000 and k[2] == 16000]
    if len(seeds) >= 2:
        aris = []
        for i in range(len(seeds)):
            for j in range(i + 1, len(seeds)):
                both = (seeds[i] >= 0) & (seeds[j] >= 0)
                aris.append(adjusted_rand_score(seeds[i][both], seeds[j][both]))
        print(f"\nfit on a 16k sample of 64k, seeds 1-3: ARI between seeds (reports in a theme in both) {np.mean(aris):.3f} "
              f"(min {np.min(aris):.3f})")
    full = labels.get((64000, "hdbscan", 0, 0))
    if full is not None and seeds:
        both = (full >= 0) & (seeds[0] >= 0)
        print(f"sample fit (seed 1) vs the full 64k fit: ARI {adjusted_rand_score(full[both], seeds[0][both]):.3f} on reports in a theme in both")


def part_scale_real(args) -> None:
    from sklearn.metrics import adjusted_rand_score

    frame = pd.read_csv(args.data / "vaers" / "vaers_1990_1996.csv", dtype=str, keep_default_na=False, usecols=["RECVDATE", "SYMPTOM_TEXT"])
    frame = frame[frame["SYMPTOM_TEXT"].str.strip() != ""]
    dates = pd.to_datetime(frame["RECVDATE"], format="%m/%d/%Y").sort_values().dt.strftime("%Y-%m-%d").to_numpy()
    cli = Path(sys.executable).with_name("incident-lens")
    print(f"index: {args.serve_home} collection {args.collection}; the `themes` command in its own process (threads: all cores)\n")
    print("| reports (received up to) | seed | seconds (wall) | job's own seconds | peak RSS MiB | themes | in no theme | HDBSCAN fitted rows |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    members = {}
    plan = [(n, 0) for n in (4000, 16000, 32000) if n < len(dates)] + [(len(dates), s) for s in (1, 2, 3)]
    for n, seed in plan:
        until = dates[n - 1]
        out = OUT / f"real-{n}-{seed}"
        cmd = [str(cli), "--home", str(args.serve_home), "themes", "--collection", args.collection, "--seed", str(seed),
               "--format", "json", "--report", str(out), *(["--until", until] if n < len(dates) else [])]
        t = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        stdout, stderr = child.communicate(timeout=args.child_timeout)
        seconds = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child so far: sizes only grow
        if child.returncode != 0:
            print(f"| {n:,} | {seed} | failed: {stderr.strip().splitlines()[-1] if stderr.strip() else child.returncode} | | | | | |")
            continue
        s = json.loads(stdout)["summary"]
        table = pd.read_csv(out / "members.csv", dtype=str, keep_default_na=False)
        members[(n, seed)] = table.set_index("id")["theme"]
        print(f"| {s['reports']:,} ({until}) | {seed} | {seconds:.1f} | {s['seconds']} | {peak:.0f} | {s['themes']} | {s['in_no_theme']:.2f} | {s['fitted_rows']:,} |", flush=True)
    runs = [members[k] for k in sorted(members) if k[0] == len(dates)]
    if len(runs) >= 2:
        aris = []
        for i in range(len(runs)):
            for j in range(i + 1, len(runs)):
                both = runs[i].index[(runs[i] != "") & (runs[j].reindex(runs[i].index).fillna("") != "")]
                aris.append(adjusted_rand_score(runs[i][both], runs[j][both]))
        print(f"\nall {len(dates):,}, seeds 1-3 (HDBSCAN on a seeded 50,000 sample): ARI between seeds on reports in a theme in both, "
              f"mean {np.mean(aris):.3f} (min {np.min(aris):.3f})")


def part_scale_1m(args) -> None:
    from sklearn.metrics import adjusted_rand_score

    corpus, _ = stored(args.serve_home, args.collection, texts=False)
    real = corpus.vectors
    rng = np.random.default_rng(SEED)
    path = OUT / "scale-1m-vectors.npy"
    big = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(args.big_n, real.shape[1]))
    for begin in range(0, args.big_n, len(real)):
        rows = min(len(real), args.big_n - begin)
        block = real[:rows] if begin == 0 else real[:rows] + rng.normal(scale=0.02, size=(rows, real.shape[1])).astype(np.float32)
        big[begin:begin + rows] = block / np.linalg.norm(block, axis=1, keepdims=True)
    big.flush()
    del big
    print(f"{args.big_n:,} vectors: the {len(real):,} real VAERS vectors, then jittered copies (noise sd 0.02, re-normalised); "
          f"HDBSCAN on a seeded 50,000 sample, the rest joined by centroid; one process per seed, 2 threads\n")
    print("| reports | seed | fit seconds | peak RSS MiB (before the fit) | themes | in a theme | fitted rows |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    labels = []
    for seed in (1, 2):
        out = OUT / f"labels-1m-{seed}.npy"
        cmd = [sys.executable, __file__, "_child", "--vectors", str(path), "--n", str(args.big_n), "--method", "hdbscan",
               "--min-size", str(args.min_size), "--sample", "50000", "--seed", str(seed), "--labels-out", str(out)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.child_timeout)
        if done.returncode != 0:
            print(f"| {args.big_n:,} | {seed} | failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode} | | | | |")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        labels.append(np.load(out))
        print(f"| {args.big_n:,} | {seed} | {r['seconds']} | {r['peak_rss_mib']} ({r['rss_before_fit_mib']}) | {r['themes']} | {r['coverage']} | {r['fitted_rows']:,} |", flush=True)
    if len(labels) == 2:
        both = (labels[0] >= 0) & (labels[1] >= 0)
        print(f"\nARI between the two seeds on the reports in a theme in both: {adjusted_rand_score(labels[0][both], labels[1][both]):.3f}")
    path.unlink()


def part_joining(args) -> None:
    from sklearn.metrics import adjusted_mutual_info_score as ami

    from incident_lens.themes.corpus import sorted_corpus
    from incident_lens.themes.fitting import JOIN_RULES, FitSettings, fit_themes

    if not (OUT / "mtsamples").is_dir() or not (OUT / "demo").is_dir():
        index_category_sets(args)  # idempotent: a set already indexed embeds nothing
    sets = []
    for home, name, field in ((OUT / "demo", "incidents", "category"), (OUT / "mtsamples", "mtsamples", "specialty")):
        corpus, raw = stored(home, name, texts=False)
        meta = {i: m for i, m in zip(raw.ids, raw.metadata)}
        sets.append((f"{name} `{field}`", corpus.vectors, np.asarray([meta[i][field] for i in corpus.ids])))
    from incident_lens.pipelines.indexing import open_index

    with open_index(settings_for(args.serve_home), args.collection) as index:
        raw = index.stored_vectors(until="1992-05-18")
    sets.append((f"VAERS up to 1992-05-18", sorted_corpus(raw).vectors, None))
    print("| set | reports | joining | in a theme | AMI on covered | AMI all (no theme = a class) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, vectors, truth in sets:
        for rule, options in JOIN_RULES.items():
            labels = fit_themes(vectors, FitSettings(min_size=args.min_size, threads=2, **options)).labels
            covered = labels >= 0
            scores = ("-", "-") if truth is None else (f"{ami(truth[covered], labels[covered]):.3f}", f"{ami(truth, labels):.3f}")
            rule = f"{rule} (default)" if rule == "close" else rule
            print(f"| {label} | {len(vectors):,} | {rule} | {covered.mean():.2f} | {scores[0]} | {scores[1]} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=["index", "planted", "categories", "scale", "scale-real", "scale-1m", "joining", "_child"])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--vaers-rows", type=int, default=16000)
    parser.add_argument("--plant", type=int, default=36, help="planted reports per mode")
    parser.add_argument("--weeks", type=int, default=6, help="weeks the planted reports are spread over")
    parser.add_argument("--min-size", type=int, default=15)
    parser.add_argument("--min-sizes", type=int, nargs="+", default=[15, 40])
    parser.add_argument("--with-sklearn-64k", action="store_true")
    parser.add_argument("--child-timeout", type=int, default=400)
    parser.add_argument("--serve-home", type=Path, default=REPO / "bench" / "out" / "serve", help="scale-real: the workspace bench_serve.py indexed")
    parser.add_argument("--collection", default="vaers-all", help="scale-real: its collection of all VAERS narratives")
    parser.add_argument("--big-n", type=int, default=1_000_000, help="scale-1m: reports in all")
    # _child only
    parser.add_argument("--vectors", type=Path)
    parser.add_argument("--n", type=int)
    parser.add_argument("--method", default="hdbscan")
    parser.add_argument("--sample", type=int, default=10**9)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--labels-out", type=Path)
    args = parser.parse_args()
    if args.part != "_child" and not args.data.is_dir():
        print(f"skipped: no data folder at {args.data}")
        return
    from incident_lens import offline

    offline.activate(OUT / "home")
    {"index": part_index, "planted": part_planted, "categories": part_categories, "scale": part_scale, "scale-real": part_scale_real, "scale-1m": part_scale_1m, "joining": part_joining, "_child": _child}[args.part](args)


if __name__ == "__main__":
    main()
