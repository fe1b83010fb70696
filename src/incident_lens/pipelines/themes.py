"""The theme jobs: fit (or refit, keeping ids) the themes of an index's selection and save them; find
emerging and new themes; assign reports indexed after a fit (called by `index`).

Usage:
    run = fit_themes_job(settings, "incidents", where=["harm!=No harm"], fit=FitSettings(min_size=15))
    run.rows() -> one dict per theme (id, size, share, keywords, representatives ...)
    found = emerging_job(settings, "incidents", window="4w", baseline="52w", min_count=3)
    assigned = assign_new_reports(settings, index)    # None when no theme model is saved
Everything is read from the index's stored vectors: nothing is embedded again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from incident_lens.errors import UserError
from incident_lens.themes.corpus import Corpus, load_corpus
from incident_lens.themes.fitting import Fit, FitSettings, fit_themes
from incident_lens.themes.keywords import theme_keywords
from incident_lens.themes.representatives import representatives
from incident_lens.themes.store import Theme, ThemeModel, carry_ids, load_model, model_dir, now, save_model

REPRESENTATIVES = 5


def themes_root(settings) -> Path:
    return settings.workspace.home / "themes"


def latest_path(settings) -> Path:
    """The last `themes` / `emerging` run's JSON (what `serve` shows on its themes page)."""
    return themes_root(settings) / "themes.json"


def record_latest(settings, run: "ThemesRun", emerging=None, summaries=None) -> Path:
    from incident_lens.themes.report import write_payload

    return write_payload(latest_path(settings), run, emerging, summaries)


def _selection(where: list[str] | None, since: str | None, until: str | None) -> dict:
    return {"where": list(where or []), "since": since or None, "until": until or None}


def _describe(selection: dict) -> str:
    parts = [*selection["where"], *([f"since {selection['since']}"] if selection["since"] else []),
             *([f"until {selection['until']}"] if selection["until"] else [])]
    return " and ".join(parts)


@dataclass
class ThemesRun:
    """A theme model with the corpus it was fitted (or read) on; `rows_of` maps corpus rows to theme rows."""

    model: ThemeModel
    corpus: Corpus
    labels: np.ndarray  # theme row (index into model.themes) per corpus report, -1 none
    refitted: bool
    seconds: float
    directory: Path
    run_dir: Path | None = None
    carried: int = 0  # themes that kept an id from the previous fit
    notes: list = field(default_factory=list)

    @property
    def in_no_theme(self) -> float:
        return float((self.labels < 0).mean()) if len(self.labels) else 0.0

    def texts_of(self, ids: list[str]) -> list[str]:
        where = {report_id: i for i, report_id in enumerate(self.corpus.ids)}
        return [self.corpus.texts[where[i]] if i in where else "" for i in ids]

    def rows(self) -> list[dict]:
        n = len(self.corpus)
        out = []
        for row, theme in enumerate(self.model.themes):
            mine = self.labels == row
            dates = self.corpus.dates[mine & self.corpus.dates_known]
            how = self.model.members.set_index("id").reindex(np.asarray(self.corpus.ids)[mine])["how"]
            out.append({
                "id": theme.label, "size": int(mine.sum()), "share": round(float(mine.sum()) / n, 5),
                "core": int((how == "core").sum()), "joined": int((how == "joined").sum()), "added": int((how == "added").sum()),
                "keywords": [term for term, _ in theme.keywords], "representatives": list(theme.representatives),
                "first_date": _iso(int(dates.min())) if len(dates) else None, "last_date": _iso(int(dates.max())) if len(dates) else None,
                "carried_similarity": theme.carried_similarity,
            })
        return out

    def summary(self) -> dict:
        model = self.model
        return {
            "collection": model.collection, "selection": model.selection, "reports": len(self.corpus), "themes": len(model.themes),
            "in_no_theme": round(self.in_no_theme, 5), "hdbscan_noise": round(model.noise_share, 5), "fitted_rows": model.fitted_rows,
            "fitted_at": model.fitted_at, "refitted": self.refitted, "carried_ids": self.carried, "settings": model.settings.to_dict(),
            "seconds": round(self.seconds, 2), "model_dir": str(self.directory), "notes": self.notes,
        }


def _iso(key: int) -> str:
    return f"{key // 10_000:04d}-{key // 100 % 100:02d}-{key % 100:02d}"


def build_model(corpus: Corpus, fit: Fit, settings: FitSettings, previous: ThemeModel | None, collection: str,
                selection: dict) -> tuple[ThemeModel, int]:
    """The theme model of a fit: ids carried from `previous` by centroid similarity, keywords,
    representatives, members and the history of sizes."""
    ids, sims, next_id = carry_ids(previous, fit.centroids)
    k = fit.n_themes
    keywords = theme_keywords(corpus.texts, fit.labels, k) if corpus.texts is not None else [[] for _ in range(k)]
    fitted_at = now()
    first = {t.id: t.first_fitted for t in previous.themes} if previous is not None else {}
    themes = []
    for row in range(k):
        core_rows = np.flatnonzero((fit.labels == row) & fit.core)
        themes.append(Theme(id=ids[row], size=int((fit.labels == row).sum()), keywords=[[t, s] for t, s in keywords[row]],
                            representatives=representatives(corpus.vectors, core_rows, fit.centroids[row], corpus.ids, REPRESENTATIVES),
                            threshold=round(float(fit.thresholds[row]), 6), first_fitted=first.get(ids[row], fitted_at),
                            carried_similarity=sims[row]))
    id_of = np.asarray(ids + [-1])
    how = np.where(fit.labels < 0, "none", np.where(fit.core, "core", "joined"))
    members = pd.DataFrame({"id": corpus.ids, "theme": id_of[fit.labels], "how": how, "similarity": fit.similarity,
                            "date": corpus.dates, "hash": corpus.hashes})
    history = list(previous.history if previous is not None else [])
    history.append({"fitted_at": fitted_at, "reports": len(corpus), "sizes": {str(t.id): t.size for t in themes}})
    model = ThemeModel(collection, selection, settings, themes, fit.centroids.astype(np.float32), members, fitted_at, next_id,
                       round(fit.noise_share, 5), fit.fitted_rows, history)
    return model, sum(s is not None for s in sims)


def _labels_from_model(model: ThemeModel, corpus: Corpus) -> np.ndarray:
    row_of = {t.id: row for row, t in enumerate(model.themes)}
    theme_of = dict(zip(model.members["id"], model.members["theme"]))
    return np.asarray([row_of.get(int(theme_of.get(i, -1)), -1) for i in corpus.ids], dtype=np.int64)


def _up_to_date(model: ThemeModel, corpus: Corpus) -> bool:
    """True when the model's fit saw exactly the corpus (same ids and texts, nothing added since)."""
    members = model.members
    return (len(members) == len(corpus) and not (members["how"] == "added").any()
            and members["id"].tolist() == corpus.ids and members["hash"].tolist() == corpus.hashes)


def fit_themes_job(settings, collection: str = "incidents", where: list[str] | None = None, since: str | None = None,
                   until: str | None = None, fit: FitSettings | None = None, refit: bool | None = True, argv=None) -> ThemesRun:
    """Fit the selection's themes (ids kept from the saved model where a theme matches) and save them.
    `refit=None`: refit only if the saved fit did not see exactly these reports with these settings; `refit=False`: use the
    saved model as it is (reports it has no row for join its themes in memory), fitting only if there is none."""
    from incident_lens.pipelines.indexing import open_index
    from incident_lens.provenance import RunRecord
    from retrieval.filters import parse_where

    started = time.perf_counter()
    fit = fit or FitSettings(seed=settings.seed, threads=settings.cpu_threads)
    selection = _selection(where, since, until)
    directory = model_dir(themes_root(settings), collection, selection)
    workspace = settings.workspace.ensure()
    with open_index(settings, collection) as index:
        corpus = load_corpus(index, parse_where(where or []), since, until, texts=True, describe=_describe(selection))
    previous = load_model(directory)
    with RunRecord(workspace, "themes", settings, argv) as run:
        run.set("collection", collection)
        run.set("selection", selection)
        reuse = previous is not None and (refit is False or (refit is None and _up_to_date(previous, corpus)
                                                             and previous.settings.same_themes_as(fit)))
        if reuse:
            unseen = ~pd.Series(corpus.ids).isin(set(previous.members["id"])).to_numpy()
            if unseen.any():
                rows = np.flatnonzero(unseen)
                previous.assign([corpus.ids[i] for i in rows], corpus.vectors[rows], corpus.dates[rows], [corpus.hashes[i] for i in rows])
            result = ThemesRun(previous, corpus, _labels_from_model(previous, corpus), False, time.perf_counter() - started, directory, run.dir)
        else:
            fitted = fit_themes(corpus.vectors, fit)
            model, carried = build_model(corpus, fitted, fit, previous, collection, selection)
            save_model(directory, model)
            result = ThemesRun(model, corpus, fitted.labels, True, time.perf_counter() - started, directory, run.dir, carried)
        run.set("themes", result.summary())
        run.count("reports", len(corpus))
        run.count("themes", len(result.model.themes))
    return result


def assign_new_reports(settings, index) -> dict | None:
    """Reports in `index` that the saved whole-collection model has not seen (or whose text changed)
    join its nearest theme whose threshold they reach; reports gone from the index leave it. Returns
    counts, or None when the collection has no saved theme model."""
    directory = model_dir(themes_root(settings), index.collection_name, _selection(None, None, None))
    model = load_model(directory)
    if model is None:
        return None
    present = index.stored_vectors(vectors=False)
    known = dict(zip(model.members["id"], model.members["hash"]))
    todo = [i for i, h in zip(present.ids, present.hashes) if known.get(i) != h]
    removed = set(known) - set(present.ids)
    found = index.vectors_of(todo) if todo else None
    added = model.assign(found.ids, found.vectors, found.dates, found.hashes) if found is not None and len(found) else model.members.iloc[:0]
    dropped = model.drop(removed) if removed else 0
    if todo or dropped:
        save_model(directory, model)
    return {"assigned": int((added["theme"] >= 0).sum()), "in_no_theme": int((added["theme"] < 0).sum()), "removed": dropped}


@dataclass
class EmergingRun:
    themes: ThemesRun
    span: object  # emerging.Span
    signals: list  # emerging.Signal, ranked
    weeks: list  # week start dates
    counts: np.ndarray  # (themes, weeks) by theme row
    totals: np.ndarray  # all dated reports per week
    settings: dict
    undated: int = 0

    def row_of(self, theme_id: int) -> int:
        return next(row for row, t in enumerate(self.themes.model.themes) if t.id == theme_id)


def emerging_job(settings, collection: str = "incidents", where: list[str] | None = None, since: str | None = None,
                 until: str | None = None, window: str = "4w", baseline: str = "52w", min_count: int = 3,
                 new_within: str | None = None, fit: FitSettings | None = None, refit: bool | None = None, argv=None) -> EmergingRun:
    """Themes of the selection (`refit` as in `fit_themes_job`: by default refitted, ids kept, only when
    reports were added since the saved fit, so a new failure mode can form its own theme), then the
    emerging test over the window ending `until` (default: the last report)."""
    from incident_lens.themes.emerging import Span, emerging_signals, parse_duration, weekly_counts

    window_days, baseline_days = parse_duration(window, "--window"), parse_duration(baseline, "--baseline")
    new_days = parse_duration(new_within, "--new-within") if new_within else None
    if min_count < 1:
        raise UserError(f"--min-count {min_count}: must be at least 1")
    # The fit sees the whole selection up to `until`; the window and baseline are cut from it.
    run = fit_themes_job(settings, collection, where, since, until, fit, refit=refit, argv=argv)
    dates = run.corpus.dates
    span = Span.ending(dates, window_days, baseline_days, until)
    ids = [t.id for t in run.model.themes]
    how = run.model.members.set_index("id").reindex(run.corpus.ids)["how"].to_numpy()
    signals = emerging_signals(run.labels, dates, ids, span, min_count, run.model.centroids, new_days, core=how == "core")
    weeks, counts, totals = weekly_counts(run.labels, dates, len(ids), span)
    if span.baseline_days < baseline_days:
        run.notes.append(f"baseline shortened to {span.baseline_days} days: no reports before {span.first}")
    return EmergingRun(run, span, signals, weeks, counts, totals,
                       {"window_days": window_days, "baseline_days": baseline_days, "min_count": min_count,
                        "new_within_days": new_days}, int((dates <= 0).sum()))
