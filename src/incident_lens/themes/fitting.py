"""Fitting themes on stored embeddings: PCA to a few dozen dimensions, then HDBSCAN; centroids and
joining thresholds in the embedding space, by which reports HDBSCAN left out (and, above the fitting
sample size, the reports it never saw) are assigned.

Usage: `fit = fit_themes(corpus.vectors, FitSettings(min_size=15, seed=13))`; `fit.labels` (theme index
per report, -1 in none), `fit.core` (placed by HDBSCAN itself), `fit.centroids`, `fit.thresholds`;
`labels, sims = assign(vectors, fit.centroids, fit.thresholds)` for reports added later.

Why these choices (measured in bench/RESULTS.md): HDBSCAN on raw 384-d vectors is slow and finds less
(distances concentrate), so the vectors are reduced by PCA (exact, so deterministic) and re-normalised.
HDBSCAN itself is deterministic; the seed only draws the fitting sample when there are more reports
than `max_fit_rows`. Themes are numbered by size (then smallest id), so the numbering is repeatable.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from incident_lens.errors import UserError

METHODS = ("hdbscan", "sklearn")
# `--join`: how far a report HDBSCAN left as noise may be from a theme and still join it: as close as the
# theme's 5 % least similar own members (close), as its least similar one (loose), or any distance (all).
JOIN_RULES = {"close": {"join_quantile": 0.05}, "loose": {"join_quantile": 0.0}, "all": {"join_quantile": 0.0, "join_all": True}}


@dataclass(frozen=True)
class FitSettings:
    min_size: int = 15  # smallest theme; small enough that a few dozen reports of a new problem can form one
    min_samples: int | None = 5  # HDBSCAN's density smoothing; lower leaves fewer reports as noise
    dims: int = 20  # PCA dimensions before HDBSCAN
    seed: int = 13  # draws the fitting sample (only when there are more than max_fit_rows reports)
    max_fit_rows: int = 50_000  # above this HDBSCAN fits a seeded sample and the rest are assigned
    # A report joins a theme by centroid when it is at least as close as this quantile of the theme's
    # own HDBSCAN members; None leaves HDBSCAN's noise in no theme.
    join_quantile: float | None = 0.05
    # Every report joins its nearest theme, however far (thresholds -1): no report is left in no theme.
    join_all: bool = False
    selection: str = "leaf"  # HDBSCAN cluster selection: leaf (many fine themes) or eom
    method: str = "hdbscan"  # the `hdbscan` package, or scikit-learn's port ("sklearn")
    threads: int = 1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "FitSettings":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def same_themes_as(self, other: "FitSettings") -> bool:
        """Whether a fit with `other` gives the themes a fit with these would (threads change nothing)."""
        return {**self.to_dict(), "threads": 0} == {**other.to_dict(), "threads": 0}


@dataclass
class Fit:
    labels: np.ndarray  # (n,) theme index, -1 in no theme
    core: np.ndarray  # (n,) bool: placed by HDBSCAN (as opposed to joined by centroid similarity)
    similarity: np.ndarray  # (n,) cosine similarity to the own theme's centroid (nan in none)
    centroids: np.ndarray  # (k, dim) unit length, embedding space
    thresholds: np.ndarray  # (k,) similarity a report needs to join each theme
    noise_share: float  # share of the fitted reports HDBSCAN left in no theme
    fitted_rows: int  # reports HDBSCAN saw

    @property
    def n_themes(self) -> int:
        return len(self.centroids)


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0, 1, norms)


def reduce(vectors: np.ndarray, dims: int) -> np.ndarray:
    """PCA (eigenvectors of the covariance: no randomness, and fast when reports far outnumber dimensions) to `dims` dimensions, rows re-normalised: Euclidean distance
    between rows then orders pairs as cosine similarity does."""
    from sklearn.decomposition import PCA

    dims = max(2, min(dims, vectors.shape[1], len(vectors) - 1))
    return _normalise(PCA(n_components=dims, svd_solver="covariance_eigh").fit_transform(vectors))


def cluster(reduced: np.ndarray, settings: FitSettings) -> np.ndarray:
    """HDBSCAN labels (-1 noise) of the reduced vectors."""
    min_samples = min(settings.min_samples or settings.min_size, settings.min_size)
    if settings.method == "hdbscan":
        import hdbscan

        model = hdbscan.HDBSCAN(min_cluster_size=settings.min_size, min_samples=min_samples,
                                cluster_selection_method=settings.selection, core_dist_n_jobs=settings.threads)
    elif settings.method == "sklearn":
        from sklearn.cluster import HDBSCAN

        model = HDBSCAN(min_cluster_size=settings.min_size, min_samples=min_samples, cluster_selection_method=settings.selection,
                        n_jobs=settings.threads, copy=True)
    else:
        raise UserError(f"clustering method {settings.method!r}: choose one of {', '.join(METHODS)}")
    return np.asarray(model.fit(reduced).labels_, dtype=np.int64)


def _renumber(labels: np.ndarray) -> np.ndarray:
    """Themes numbered 0.. by size (largest first), ties by their first report (the corpus is in id order)."""
    found = [j for j in np.unique(labels) if j >= 0]
    order = sorted(found, key=lambda j: (-int((labels == j).sum()), int(np.argmax(labels == j))))
    out = np.full_like(labels, -1)
    for new, old in enumerate(order):
        out[labels == old] = new
    return out


def centroids_of(vectors: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    return _normalise(np.vstack([vectors[labels == j].mean(axis=0) for j in range(k)])) if k else np.zeros((0, vectors.shape[1]), np.float32)


def assign(vectors: np.ndarray, centroids: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each vector's nearest theme if it is at least that theme's threshold close, else -1; and the similarity."""
    if not len(centroids) or not len(vectors):
        return np.full(len(vectors), -1, dtype=np.int64), np.full(len(vectors), np.nan)
    sims = vectors @ centroids.T
    nearest = sims.argmax(axis=1)
    best = sims[np.arange(len(vectors)), nearest]
    return np.where(best >= thresholds[nearest], nearest, -1).astype(np.int64), best


def check_settings(n: int, settings: FitSettings) -> None:
    if settings.min_size < 2:
        raise UserError(f"--min-size {settings.min_size}: a theme needs at least 2 reports")
    if settings.dims < 2:
        raise UserError(f"dims {settings.dims}: reduce to at least 2 dimensions")
    if n < 2 * settings.min_size:
        raise UserError(f"only {n} report(s) selected: themes need at least twice --min-size ({2 * settings.min_size}); "
                        "select more reports or lower --min-size")


def fit_themes(vectors: np.ndarray, settings: FitSettings) -> Fit:
    """Themes of `vectors` (rows in id order; see the module docstring)."""
    n = len(vectors)
    check_settings(n, settings)
    vectors = np.asarray(vectors, dtype=np.float32)
    if n > settings.max_fit_rows:
        rng = np.random.default_rng(settings.seed)
        sample = np.sort(rng.choice(n, settings.max_fit_rows, replace=False))
    else:
        sample = np.arange(n)
    found = _renumber(cluster(reduce(vectors[sample], settings.dims), settings))
    k = int(found.max()) + 1 if len(found) else 0
    centroids = centroids_of(vectors[sample], found, k)
    labels = np.full(n, -1, dtype=np.int64)
    labels[sample] = found
    core = labels >= 0
    similarity = np.full(n, np.nan)
    thresholds = np.zeros(k)
    for j in range(k):
        members = np.flatnonzero(labels == j)
        similarity[members] = vectors[members] @ centroids[j]
        thresholds[j] = np.quantile(similarity[members], settings.join_quantile) if settings.join_quantile is not None else np.inf
    if settings.join_all:
        thresholds[:] = -1.0  # cosine similarity is never below -1
    if settings.join_quantile is not None and k:
        rest = np.flatnonzero(~core)
        joined, sims = assign(vectors[rest], centroids, thresholds)
        labels[rest] = joined
        similarity[rest] = np.where(joined >= 0, sims, np.nan)
    elif n > len(sample):
        # Without joining by similarity, unsampled reports would sit in no theme by construction.
        raise UserError(f"{n} reports exceed the fitting sample ({settings.max_fit_rows}) and joining by centroid is off; "
                        "turn joining on or raise the sample size")
    return Fit(labels, core, similarity, centroids, thresholds, float((found < 0).mean()) if len(found) else 1.0, len(sample))
