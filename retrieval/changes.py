"""What an `add` must write: the metadata each report should have, and which reports are new,
changed (re-embed), relabelled (metadata only) or unchanged; plus the summary of a run.

Usage: `found = survey(reports, meta_cols, date_col, rows)` reads the reports once before any write;
then per chunk `wanted = report_metadata(chunk, meta_cols, found.date_col, found.dayfirst)` and
`plan = plan_changes(ids, wanted, stored)` where `stored` maps id -> metadata already in Chroma.
Change detection rests on a sha256 of the report text kept in each report's metadata.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterator

import pandas as pd

from retrieval.errors import RetrievalError
from retrieval.filters import DATE_KEY, HASH_KEY, RESERVED_KEYS, DateOrder, date_key


@dataclass(frozen=True)
class IndexSummary:
    added: int = 0
    updated: int = 0  # text changed: re-embedded
    meta_updated: int = 0  # only metadata changed: not re-embedded
    unchanged: int = 0
    skipped: int = 0  # empty text
    pruned: int = 0
    seconds: float = 0.0
    total: int = 0  # reports in the collection afterwards

    @property
    def processed(self) -> int:
        return self.added + self.updated + self.meta_updated + self.unchanged

    @property
    def embedded(self) -> int:
        return self.added + self.updated

    @property
    def rate(self) -> float:
        """Reports read per second (embedded or found unchanged)."""
        return self.processed / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        return {
            "added": self.added, "updated": self.updated, "meta_updated": self.meta_updated, "unchanged": self.unchanged,
            "skipped": self.skipped, "pruned": self.pruned, "seconds": round(self.seconds, 3), "rate": round(self.rate, 2), "total": self.total,
        }

    def __str__(self) -> str:
        return (
            f"{self.added} added, {self.updated} updated, {self.meta_updated} metadata-only, {self.unchanged} unchanged, "
            f"{self.skipped} skipped, {self.pruned} pruned in {self.seconds:.1f} s ({self.rate:.1f} reports/s); {self.total} in index"
        )


@dataclass
class Plan:
    wanted: list[dict]  # metadata to write, per row (keys to delete set to None)
    embed: list[int] = field(default_factory=list)  # rows to embed and upsert
    relabel: list[int] = field(default_factory=list)  # rows whose metadata alone changes
    counts: dict = field(default_factory=lambda: dict(added=0, updated=0, meta_updated=0, unchanged=0))


class FrameChunks:
    """A frame (columns `id`, `text`, metadata) read like a streamed report file: `chunks(columns, rows)`."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame

    def chunks(self, columns: list[str], rows: int) -> Iterator[pd.DataFrame]:
        missing = [c for c in ("id", "text", *columns) if c not in self.frame.columns]
        if missing:
            raise RetrievalError(f"column(s) {', '.join(repr(c) for c in missing)} not in the reports; columns are: {', '.join(map(str, self.frame.columns))}")
        for begin in range(0, len(self.frame), rows):
            yield self.frame.iloc[begin : begin + rows]


@dataclass
class Survey:
    """What one read through the reports found, before anything is written."""

    ids: set[str]  # ids of the reports with text (what --prune keeps)
    skipped: int  # rows with empty text
    date_col: str | None
    dayfirst: bool

    @property
    def reports(self) -> int:
        return len(self.ids)


def survey(source, meta_cols: list[str], date_col: str | None, rows: int) -> Survey:
    """Check ids are unique, count the reports and choose the date column (`date_col`, or the first
    meta column whose values are all dates), reading `source.chunks` once and holding only the ids."""
    reserved = [c for c in meta_cols if c in RESERVED_KEYS or c in ("id", "text") or c.startswith("$")]
    if reserved:
        raise RetrievalError(f"metadata column {reserved[0]!r}: the name is reserved by the index; rename the column")
    orders = {col: DateOrder() for col in ([date_col] if date_col else meta_cols)}
    seen: set[str] = set()
    with_text: set[str] = set()
    skipped = 0
    for chunk in source.chunks(list(dict.fromkeys([*meta_cols, *orders])), rows):
        ids = chunk["id"].astype(str)
        repeated = ids[ids.duplicated() | ids.isin(seen)]
        if len(repeated):
            raise RetrievalError(f"id '{repeated.iloc[0]}' appears more than once in the reports; ids must be unique")
        seen.update(ids)
        empty = (chunk["text"].astype(str).str.strip() == "").to_numpy()
        skipped += int(empty.sum())
        with_text.update(ids[~empty])
        for col, order in orders.items():
            order.feed(chunk[col])
    if date_col:
        if orders[date_col].result is None:
            raise RetrievalError(f"date column {date_col!r}: not every value is a date (YYYY-MM-DD, DD/MM/YYYY or MM/DD/YYYY); fix the column or choose another")
        return Survey(with_text, skipped, date_col, orders[date_col].result)
    found = next((col for col, order in orders.items() if order.result is not None), None)
    return Survey(with_text, skipped, found, orders[found].result if found else True)


def report_metadata(chunk: pd.DataFrame, meta_cols: list[str], date_col: str | None, dayfirst: bool) -> list[dict]:
    """Chroma metadata per row: the chosen columns as strings, the text hash, the date as YYYYMMDD."""
    columns = {col: chunk[col].astype(str).tolist() for col in meta_cols}
    texts = chunk["text"].astype(str).tolist()
    dates = chunk[date_col].tolist() if date_col else [None] * len(texts)
    return [
        {**{col: values[i] for col, values in columns.items()}, HASH_KEY: hashlib.sha256(texts[i].encode("utf-8")).hexdigest(), DATE_KEY: date_key(dates[i], dayfirst) if date_col else None}
        for i in range(len(texts))
    ]


def plan_changes(ids: list[str], wanted: list[dict], stored: dict[str, dict]) -> Plan:
    plan = Plan(wanted=list(wanted))
    for i, (report_id, meta) in enumerate(zip(ids, wanted)):
        old = stored.get(report_id)
        if old is None:
            plan.counts["added"] += 1
            plan.embed.append(i)
            continue
        # Keys the new metadata lacks are set to None, which Chroma deletes.
        full = meta | {key: None for key in old if key not in meta}
        if old.get(HASH_KEY) != meta[HASH_KEY]:
            plan.counts["updated"] += 1
            plan.embed.append(i)
            plan.wanted[i] = full
        elif any(old.get(key) != value for key, value in full.items()):
            plan.counts["meta_updated"] += 1
            plan.relabel.append(i)
            plan.wanted[i] = full
        else:
            plan.counts["unchanged"] += 1
    return plan
