"""The saved theme model of a collection (and selection) in the workspace, with theme ids kept across
refits, and the assignment of reports indexed after the fit.

Usage:
    model = load_model(directory)                     # None if never fitted
    ids, sims = carry_ids(previous, new_centroids)    # old ids where a new theme matches an old one
    save_model(directory, model)                      # atomic: temp files, then renames
    added = model.assign(ids, vectors, dates, hashes)  # reports indexed since the fit join saved themes

On disk, `<workspace>/themes/<collection>/<selection>/`: `model.json` (settings, themes with keywords,
representative ids, history of sizes per fit; no report text), `centroids.npy`, `members.csv`
(id, theme, how, similarity, date, hash). Keywords are words of the reports: like the index, this
folder is patient data and stays in the workspace.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from incident_lens.errors import UserError
from incident_lens.themes.fitting import FitSettings, assign

FORMAT = 1
# A new theme keeps an old theme's id when their centroids are at least this similar (cosine, embedding
# space) and they are each other's match in the one-to-one assignment. Two fits of the same demo
# reports give 0.98-1.00 for the same theme; different themes of the demo stay below 0.8.
CARRY_SIMILARITY = 0.85
HOW = ("core", "joined", "none", "added")  # placed by HDBSCAN, joined by centroid, in no theme, assigned after the fit


@dataclass
class Theme:
    id: int
    size: int
    keywords: list  # [[term, score], ...]
    representatives: list  # report ids
    threshold: float
    first_fitted: str
    carried_similarity: float | None = None  # centroid similarity to the previous fit's theme with this id

    @property
    def label(self) -> str:
        return f"T{self.id}"


@dataclass
class ThemeModel:
    collection: str
    selection: dict
    settings: FitSettings
    themes: list[Theme]
    centroids: np.ndarray  # row i belongs to themes[i]
    members: pd.DataFrame  # id, theme (id or -1), how, similarity, date, hash; in id order
    fitted_at: str
    next_id: int
    noise_share: float
    fitted_rows: int
    history: list = field(default_factory=list)  # per fit: {"fitted_at", "reports", "sizes": {id: size}}

    def theme(self, theme_id: int) -> Theme:
        for theme in self.themes:
            if theme.id == theme_id:
                return theme
        raise UserError(f"no theme T{theme_id} in the saved model ({', '.join(t.label for t in self.themes)})")

    @property
    def thresholds(self) -> np.ndarray:
        return np.asarray([t.threshold for t in self.themes], dtype=float)

    def assign(self, ids: list[str], vectors: np.ndarray, dates: np.ndarray, hashes: list[str]) -> pd.DataFrame:
        """Members for reports not in the fit (or whose text changed since): the nearest saved theme
        whose threshold they reach, else none. Replaces any earlier rows of those ids; returns the new rows."""
        rows, sims = assign(np.asarray(vectors, dtype=np.float32), self.centroids, self.thresholds)
        theme_ids = np.asarray([t.id for t in self.themes] + [-1])
        added = pd.DataFrame({"id": list(ids), "theme": theme_ids[rows], "how": "added",
                              "similarity": np.where(rows >= 0, sims, np.nan), "date": np.asarray(dates), "hash": list(hashes)})
        kept = self.members[~self.members["id"].isin(set(ids))]
        self.members = pd.concat([kept, added], ignore_index=True).sort_values("id", kind="stable").reset_index(drop=True)
        return added

    def drop(self, ids: set[str]) -> int:
        before = len(self.members)
        self.members = self.members[~self.members["id"].isin(ids)].reset_index(drop=True)
        return before - len(self.members)


def selection_key(selection: dict) -> str:
    """Folder name of a selection: `all`, or a short hash of the filter."""
    if not any(selection.values()):
        return "all"
    return "sel-" + hashlib.sha256(json.dumps(selection, sort_keys=True).encode()).hexdigest()[:10]


def model_dir(themes_root: Path, collection: str, selection: dict) -> Path:
    return Path(themes_root) / collection / selection_key(selection)


def carry_ids(previous: ThemeModel | None, centroids: np.ndarray) -> tuple[list[int], list[float | None], int]:
    """Ids for the new themes (rows of `centroids`): a previous theme's id where the one-to-one best
    match by centroid similarity reaches CARRY_SIMILARITY, else a fresh id. Returns ids, the matched
    similarity (None for fresh) and the next free id."""
    from scipy.optimize import linear_sum_assignment

    next_id = previous.next_id if previous is not None else 1
    ids: list[int | None] = [None] * len(centroids)
    sims: list[float | None] = [None] * len(centroids)
    if previous is not None and len(previous.centroids) and len(centroids) and previous.centroids.shape[1] == centroids.shape[1]:
        similarity = centroids @ previous.centroids.T
        for new, old in zip(*linear_sum_assignment(-similarity)):
            if similarity[new, old] >= CARRY_SIMILARITY:
                ids[new], sims[new] = previous.themes[old].id, round(float(similarity[new, old]), 4)
    for i in range(len(ids)):
        if ids[i] is None:
            ids[i], next_id = next_id, next_id + 1
    return ids, sims, next_id


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def load_model(directory: Path) -> ThemeModel | None:
    path = Path(directory) / "model.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        centroids = np.load(Path(directory) / "centroids.npy")
        members = pd.read_csv(Path(directory) / "members.csv", dtype={"id": str, "how": str, "hash": str},
                              keep_default_na=False, na_values={"similarity": [""]})
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{directory}: damaged theme model ({type(exc).__name__}); delete the folder and run "
                        "`incident-lens themes` again") from None
    if data.get("format") != FORMAT:
        raise UserError(f"{path}: theme model format {data.get('format')} is not {FORMAT}; run `incident-lens themes` to refit")
    return ThemeModel(
        collection=data["collection"], selection=data["selection"], settings=FitSettings.from_dict(data["settings"]),
        themes=[Theme(**t) for t in data["themes"]], centroids=centroids, members=members, fitted_at=data["fitted_at"],
        next_id=data["next_id"], noise_share=data["noise_share"], fitted_rows=data["fitted_rows"], history=data["history"],
    )


def save_model(directory: Path, model: ThemeModel) -> None:
    """Write the three files to temporaries, then rename them into place (model.json last, so a
    reader never sees a model.json without the files it describes)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    data = {
        "format": FORMAT, "collection": model.collection, "selection": model.selection, "settings": model.settings.to_dict(),
        "fitted_at": model.fitted_at, "next_id": model.next_id, "noise_share": model.noise_share, "fitted_rows": model.fitted_rows,
        "themes": [asdict(t) for t in model.themes], "history": model.history,
    }
    with open(directory / "centroids.tmp.npy", "wb") as handle:
        np.save(handle, np.asarray(model.centroids, dtype=np.float32))
    model.members.to_csv(directory / "members.tmp.csv", index=False)
    (directory / "model.tmp.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    (directory / "centroids.tmp.npy").replace(directory / "centroids.npy")
    (directory / "members.tmp.csv").replace(directory / "members.csv")
    (directory / "model.tmp.json").replace(directory / "model.json")
