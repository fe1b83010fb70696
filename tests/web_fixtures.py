"""Shared set-up of the web app tests: a small real index of demo reports and a review queue for it."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

DEMO_DIR = Path(__file__).resolve().parents[1] / "data" / "demo"

N_REPORTS = 40
META = ["occurred_at", "care_setting", "category", "harm"]


def build_small_index(folder: Path, embedder) -> Path:
    """The first N_REPORTS demo incidents indexed with the real MiniLM; returns the workspace."""
    from incident_lens.config import Settings
    from retrieval.index import IncidentIndex

    frame = pd.read_csv(DEMO_DIR / "incidents.csv", dtype=str, keep_default_na=False).head(N_REPORTS)
    frame = frame.assign(text=frame["description"] + "\n" + frame["actions"])
    home = folder / "ws"
    settings = Settings(home=home)
    settings.workspace.ensure()
    with IncidentIndex.open(settings.workspace.index_dir, "incidents", embedder, writable=True) as index:
        index.add(frame[["id", "text", *META]], meta_cols=META)
    return home


def demo_rows(n: int = N_REPORTS) -> pd.DataFrame:
    return pd.read_csv(DEMO_DIR / "incidents.csv", dtype=str, keep_default_na=False).head(n)


def write_queue(path: Path, rows: pd.DataFrame, count: int = 3) -> Path:
    """A review queue over the first `count` rows: current = the row's harm, suggested = another harm level,
    evidence = the first five words of the description."""
    levels = sorted(set(rows["harm"]))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "current", "suggested", "confidence", "reason", "evidence"])
        for _, row in rows.head(count).iterrows():
            other = next(level for level in levels if level != row["harm"])
            quote = " ".join(row["description"].split()[:5])
            writer.writerow([row["id"], row["harm"], other, "0.81", "student disagrees", f'["{quote}"]'])
    return path


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
