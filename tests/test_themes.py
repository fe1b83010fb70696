"""Themes and emerging signals: repeatable fits, input order, seeds, ids kept across a refit, reports
assigned by `index`, the emerging test, and the planted demo failure mode coming first; through the
real MiniLM and Chroma on a small slice of the demo data, and through the CLI for bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from incident_lens.cli import app
from incident_lens.errors import UserError
from incident_lens.themes.corpus import sorted_corpus
from incident_lens.themes.emerging import Span, emerging_signals, parse_duration, sparkline, weekly_counts
from incident_lens.themes.fitting import FitSettings, fit_themes
from incident_lens.themes.keywords import theme_keywords
from incident_lens.themes.representatives import representatives
from retrieval.hits import StoredVectors

from conftest import DEMO_DIR

TEXT_COLS = ["description", "actions", "causes"]
# The slice indexed in these tests: the last 22 months, every third report, plus every report of the
# planted failure mode; reports from October 2026 are added in a second step.
SLICE_FROM, LATE_FROM = "2025-01-01", "2026-10-01"


def blobs(n_per: int = 60, k: int = 4, dim: int = 384, seed: int = 0, spread: float = 0.08):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim))
    x = np.repeat(centres, n_per, axis=0) + rng.normal(size=(k * n_per, dim)) * spread * np.sqrt(dim) / 4
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), np.repeat(np.arange(k), n_per)


def settings(**kw) -> FitSettings:
    return FitSettings(**({"min_size": 10, "threads": 1} | kw))


# --- fitting --------------------------------------------------------------------------------------

def test_fit_finds_the_blobs_and_is_repeatable():
    from sklearn.metrics import adjusted_rand_score

    x, truth = blobs()
    first, second = fit_themes(x, settings()), fit_themes(x, settings())
    assert first.n_themes == 4
    assert adjusted_rand_score(truth, first.labels) > 0.95
    assert np.array_equal(first.labels, second.labels) and np.allclose(first.centroids, second.centroids)
    # Numbered by size, then first report: the numbering itself is repeatable, not just the partition.
    sizes = np.bincount(first.labels[first.labels >= 0])
    assert list(sizes) == sorted(sizes, reverse=True)


def test_input_order_does_not_matter():
    x, _ = blobs(seed=1)
    ids = [f"R{i:04d}" for i in range(len(x))]
    order = np.random.default_rng(5).permutation(len(x))

    def stored(rows):
        return StoredVectors([ids[i] for i in rows], x[rows], np.full(len(rows), 20240101), ["h"] * len(rows), [{}] * len(rows))

    a = sorted_corpus(stored(np.arange(len(x))))
    b = sorted_corpus(stored(order))
    assert a.ids == b.ids
    fa, fb = fit_themes(a.vectors, settings()), fit_themes(b.vectors, settings())
    assert np.array_equal(fa.labels, fb.labels)


def test_seed_draws_the_fitting_sample_and_seeds_agree():
    from sklearn.metrics import adjusted_rand_score

    x, truth = blobs(n_per=100, seed=2)
    a = fit_themes(x, settings(max_fit_rows=200, seed=1))
    again = fit_themes(x, settings(max_fit_rows=200, seed=1))
    b = fit_themes(x, settings(max_fit_rows=200, seed=2))
    assert a.fitted_rows == 200 and np.array_equal(a.labels, again.labels)
    # Reports outside the sample join through the centroids, and another seed's sample gives the same themes.
    both = (a.labels >= 0) & (b.labels >= 0)
    assert both.mean() > 0.85
    assert adjusted_rand_score(a.labels[both], b.labels[both]) > 0.95 and adjusted_rand_score(truth[both], a.labels[both]) > 0.95


def test_too_few_reports_is_a_user_error():
    x, _ = blobs(n_per=5, k=2)
    with pytest.raises(UserError, match="min-size"):
        fit_themes(x, settings(min_size=10))


# --- keywords and representatives -----------------------------------------------------------------

def test_class_tfidf_keywords_drop_field_names_and_keep_ward_abbreviations():
    texts = ([f"description: Patient fell in A&E bay {i}, no injury.\n\nactions: falls review" for i in range(6)]
             + [f"description: Pump stopped after battery change, no alarm on ICU {i}.\n\nactions: pump quarantined" for i in range(6)])
    labels = np.array([0] * 6 + [1] * 6)
    words = theme_keywords(texts, labels, 2, top=30)
    falls, pumps = [t for t, _ in words[0]], [t for t, _ in words[1]]
    assert "a&e" in falls and "fell" in falls and "pump" not in falls
    assert "pump" in pumps and "icu" in pumps and "no alarm" in pumps
    assert not {"description", "actions", "patient", "no"} & set(falls + pumps)


def test_representatives_are_near_the_centroid_and_not_duplicates():
    x, truth = blobs(n_per=30, k=1, seed=3)
    x = np.vstack([x, x[:5]])  # exact duplicates of five members
    ids = [f"R{i:03d}" for i in range(len(x))]
    centroid = x.mean(axis=0) / np.linalg.norm(x.mean(axis=0))
    chosen = representatives(x, np.arange(len(x)), centroid, ids, n=5)
    assert len(chosen) == 5 and chosen[0] == ids[int(np.argmax(x @ centroid))]
    vectors = x[[ids.index(c) for c in chosen]]
    assert (vectors @ vectors.T)[np.triu_indices(5, 1)].max() < 0.999


# --- the emerging test ----------------------------------------------------------------------------

def _dates(days: np.ndarray) -> np.ndarray:
    from datetime import date, timedelta

    base = date(2025, 1, 1)
    return np.asarray([int((base + timedelta(days=int(d))).strftime("%Y%m%d")) for d in days])


def test_a_rising_share_is_flagged_and_a_busier_month_is_not():
    rng = np.random.default_rng(0)
    # 400 days of ten steady themes; the last 28 days are twice as busy, and the last theme also jumps.
    days = np.concatenate([rng.integers(0, 372, 1500), rng.integers(372, 400, 300)])
    ids = list(range(101, 111))
    labels = rng.integers(0, 10, len(days))
    labels[np.flatnonzero(days >= 372)[:60]] = 9
    span = Span.ending(_dates(days), 28, 364)
    signals = emerging_signals(labels, _dates(days), ids, span, min_count=3)
    assert [s.theme for s in signals if s.flagged] == [110] and signals[0].theme == 110
    top = signals[0]
    assert top.prr >= 2 and top.chi2 >= 4 and top.q <= 0.05 and top.window_share > 2 * top.baseline_share
    assert all(s.prr < 2 for s in signals[1:])
    # Without the jump, the doubled volume alone flags nothing.
    calm = rng.integers(0, 10, len(days))
    assert not any(s.flagged for s in emerging_signals(calm, _dates(days), ids, span))


def test_weekly_counts_sparkline_and_durations():
    days = np.array([0, 1, 7, 8, 9, 20])
    span = Span.ending(_dates(days), 7, 14)
    starts, counts, totals = weekly_counts(np.array([0, 0, 0, 1, 1, -1]), _dates(days), 2, span)
    assert totals.sum() == 6 and counts.sum() == 5 and len(starts) == 3
    line = sparkline([0, 1, 4, 4])
    assert len(line) == 4 and line[0] == " " and line[2:] == "██" and line[1] in "▁▂▃▄"
    assert parse_duration("4w", "--window") == 28 and parse_duration("10d", "--window") == 10
    with pytest.raises(UserError, match="--window"):
        parse_duration("a month", "--window")
    with pytest.raises(UserError, match="not shorter than the data"):
        Span.ending(_dates(days), 21, 14)


# --- through the real index -----------------------------------------------------------------------

def planted(texts) -> np.ndarray:
    text = pd.Series(list(texts)).str.lower()
    return (text.str.contains("vitaflow") | text.str.contains("vf3")).to_numpy()


@pytest.fixture(scope="module")
def demo_slice(tmp_path_factory):
    """The slice as two CSV files (early, late) in a folder."""
    frame = pd.read_csv(DEMO_DIR / "incidents.csv", dtype=str, keep_default_na=False)
    frame = frame[frame["occurred_at"] >= SLICE_FROM]
    is_planted = planted(frame["description"])
    keep = is_planted | (np.arange(len(frame)) % 3 == 0)
    frame = frame[keep]
    folder = tmp_path_factory.mktemp("demo-slice")
    frame[frame["occurred_at"] < LATE_FROM].to_csv(folder / "early.csv", index=False)
    frame.to_csv(folder / "all.csv", index=False)
    return folder


def cli(home, *args):
    return CliRunner().invoke(app, ["--home", str(home), *args])


def index_args(path):
    return ["index", str(path), "--id-col", "id", *[a for c in TEXT_COLS for a in ("--text-col", c)],
            "--meta", "occurred_at", "--meta", "category", "--meta", "harm", "--date-col", "occurred_at"]


@pytest.fixture(scope="module")
def early_home(demo_slice, tmp_path_factory):
    """A workspace with the early part of the slice indexed (copied by each test that changes it)."""
    home = tmp_path_factory.mktemp("early") / "ws"
    result = cli(home, *index_args(demo_slice / "early.csv"))
    assert result.exit_code == 0, result.output
    return home


@pytest.fixture(scope="module")
def full_home(early_home, demo_slice, tmp_path_factory):
    home = tmp_path_factory.mktemp("full") / "ws"
    shutil.copytree(early_home, home)
    result = cli(home, *index_args(demo_slice / "all.csv"))
    assert result.exit_code == 0, result.output
    return home


def test_planted_demo_theme_is_the_top_emerging_signal(full_home, demo_slice, tmp_path):
    result = cli(full_home, "emerging", "--format", "json", "--report", str(tmp_path / "report"))
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout[result.stdout.index("{"):])
    top = found["emerging"]["signals"][0]
    assert top["flagged"] and top["prr"] >= 2 and top["a"] >= 3
    # The top theme is the planted failure mode: most of its members are planted reports, and it holds most of them.
    members = pd.read_csv(tmp_path / "report" / "members.csv", dtype=str, keep_default_na=False)
    frame = pd.read_csv(demo_slice / "all.csv", dtype=str, keep_default_na=False).set_index("id")
    members["planted"] = planted(frame.loc[members["id"], "description"])
    in_top = members["theme"] == top["theme"]
    assert members.loc[in_top, "planted"].mean() > 0.6
    assert (members["planted"] & in_top).sum() >= 0.8 * members["planted"].sum()
    # Nothing else of the slice is flagged (its other themes are steady by construction).
    assert sum(s["flagged"] for s in found["emerging"]["signals"]) == 1
    for name in ("themes.html", "themes.json", "themes.csv", "members.csv", "emerging.csv", f"plots/timeline-{top['theme']}.png"):
        assert (tmp_path / "report" / name).stat().st_size > 0, name
    assert "in no theme" in (tmp_path / "report" / "themes.html").read_text()


def test_index_assigns_new_reports_and_a_refit_keeps_ids(early_home, demo_slice, tmp_path):
    home = tmp_path / "ws"
    shutil.copytree(early_home, home)
    first = cli(home, "themes", "--format", "json")
    assert first.exit_code == 0, first.output
    before = json.loads(first.stdout)
    model_dir = home / "themes" / "incidents" / "all"
    members_before = pd.read_csv(model_dir / "members.csv", dtype=str, keep_default_na=False)

    added = cli(home, *index_args(demo_slice / "all.csv"))
    assert added.exit_code == 0, added.output
    assert "joined saved themes" in added.stdout
    members = pd.read_csv(model_dir / "members.csv", dtype=str, keep_default_na=False)
    new = members[~members["id"].isin(set(members_before["id"]))]
    late = pd.read_csv(demo_slice / "all.csv", dtype=str, keep_default_na=False)
    late = late[late["occurred_at"] >= LATE_FROM]
    assert set(new["id"]) == set(late["id"]) and (new["how"] == "added").all()
    # New planted reports join the theme that the early planted reports formed.
    early_planted = members_before[members_before["id"].isin(
        pd.read_csv(demo_slice / "early.csv", dtype=str, keep_default_na=False).loc[lambda f: planted(f["description"]), "id"])]
    pump_theme = early_planted["theme"].mode()[0]  # saved ids are numbers; commands show them as T<n>
    late_planted = new[new["id"].isin(late.loc[planted(late["description"]), "id"])]
    assert (late_planted["theme"] == pump_theme).mean() > 0.7

    second = cli(home, "themes", "--format", "json")
    assert second.exit_code == 0, second.output
    after = json.loads(second.stdout)
    old = {t["id"]: set(t["representatives"]) for t in before["themes"]}
    kept = [t for t in after["themes"] if t["id"] in old]
    # Most themes keep their id across the refit, the pump theme among them, matched by centroid.
    assert len(kept) >= 0.7 * len(old) and f"T{pump_theme}" in {t["id"] for t in kept}
    assert all(t["carried_similarity"] >= 0.85 for t in kept)
    assert after["summary"]["carried_ids"] == len(kept)
    history = json.loads((model_dir / "model.json").read_text())["history"]
    assert len(history) == 2


def test_bad_input_is_one_line_errors(full_home):
    cases = [
        (["themes", "--where", "harm=No such harm"], "no reports match harm=No such harm"),
        (["themes", "--where", "nosuchfield=x"], "unknown filter field"),
        (["emerging", "--window", "400w"], "not shorter than the data"),
        (["emerging", "--window", "soon"], "--window 'soon'"),
        (["themes", "--format", "xml"], "--format 'xml'"),
        (["themes", "--min-size", "1"], "--min-size 1"),
        (["themes", "--since", "2026-10-30"], "themes need at least"),
        (["themes", "--collection", "nothing-here"], "no index 'nothing-here'"),
        (["themes", "--join", "some"], "--join some: use one of close, loose, all"),
        (["emerging", "--top", "-1"], "--top -1"),
    ]
    for args, message in cases:
        result = cli(full_home, *args)
        assert result.exit_code == 2, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (args, result.output)


def test_join_all_leaves_no_report_in_no_theme_and_other_settings_refit(early_home, demo_slice, tmp_path):
    home = tmp_path / "ws"
    shutil.copytree(early_home, home)
    close = json.loads(cli(home, "emerging", "--format", "json").stdout)
    assert close["summary"]["in_no_theme"] > 0 and close["summary"]["refitted"]
    again = json.loads(cli(home, "emerging", "--format", "json").stdout)
    assert not again["summary"]["refitted"]  # same reports, same settings: the saved fit is used
    joined = json.loads(cli(home, "emerging", "--format", "json", "--join", "all").stdout)
    assert joined["summary"]["refitted"] and joined["summary"]["in_no_theme"] == 0.0
    assert {t["id"] for t in joined["themes"]} == {t["id"] for t in close["themes"]}  # same themes, more members
    # Reports `index` adds join the saved themes under the same rule: every one of them joins.
    added = cli(home, *index_args(demo_slice / "all.csv"))
    assert added.exit_code == 0, added.output
    members = pd.read_csv(home / "themes" / "incidents" / "all" / "members.csv", dtype=str, keep_default_na=False)
    assert (members.loc[members["how"] == "added", "theme"].astype(int) >= 0).all() and (members["how"] == "added").any()
    assert (members["theme"].astype(int) >= 0).all()


def test_emerging_table_shows_the_top_themes_and_says_how_many_more(full_home):
    result = cli(full_home, "emerging", "--top", "2")
    assert result.exit_code == 0, result.output
    assert "more themes not shown (--top 0 shows all" in result.output
    everything = cli(full_home, "emerging", "--top", "0")
    assert everything.exit_code == 0 and "more themes not shown" not in everything.output
