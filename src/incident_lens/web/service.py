"""The warm side of the web app: one read-only index, its embedder loaded once, and the filter choices.

Usage: `service = SearchService.open(settings, "incidents")`; `service.search(params)`,
`service.similar(report_id, k)`, `service.report(report_id)`; `service.choices` maps each metadata field
with few distinct values to them (drop-downs on the search page).
Searches take a lock: on 2 cores two at once would only slow each other, and the index is not
documented as thread-safe.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from incident_lens.errors import UserError

# A field with at most this many distinct values gets a drop-down; others are filtered with a typed `where`.
MAX_CHOICES = 40
PAGE = 2000


@dataclass
class SearchOutcome:
    hits: list
    seconds: float


class SearchService:
    def __init__(self, index, choices: dict[str, list[str]]):
        self.index = index
        self.choices = choices
        self._lock = threading.Lock()

    @classmethod
    def open(cls, settings, collection: str) -> "SearchService":
        from incident_lens.pipelines.indexing import open_index

        index = open_index(settings, collection)
        index.embedder.encode(["warm up"])  # loads the model now, not on the first query
        _ = index.lexical  # and the BM25 index
        return cls(index, _field_choices(index))

    @property
    def fields(self) -> list[str]:
        return self.index.meta_fields

    @property
    def date_field(self) -> str | None:
        return self.index.date_field

    @property
    def collection(self) -> str:
        return self.index.collection_name

    def count(self) -> int:
        return self.index.count()

    def search(self, params) -> SearchOutcome:
        start = time.perf_counter()
        with self._lock:
            hits = self.index.query(params.q, k=params.k, where=params.where(), mode=params.mode, since=params.since or None,
                                    until=params.until or None)
        return SearchOutcome(hits, time.perf_counter() - start)

    def similar(self, report_id: str, k: int):
        with self._lock:
            return self.index.similar(report_id, k=k)

    def report(self, report_id: str):
        with self._lock:
            found = self.index.get([report_id])
        if not found:
            raise UserError(f"no report with id {report_id!r} in index '{self.collection}' ({self.count()} reports)")
        return found[0]

    def find(self, report_id: str):
        """The report, or None when it is not in the index (review items may name reports never indexed)."""
        with self._lock:
            found = self.index.get([report_id])
        return found[0] if found else None


def _field_choices(index) -> dict[str, list[str]]:
    """Distinct values of each metadata field that has few of them (the date field never)."""
    fields = [f for f in index.meta_fields if f != index.date_field]
    values: dict[str, set[str]] = {f: set() for f in fields}
    for page in index.metadata_pages(PAGE):
        for meta in page:
            for name in list(values):
                value = (meta or {}).get(name)
                if value is None or str(value) == "":
                    continue
                values[name].add(str(value))
                if len(values[name]) > MAX_CHOICES:
                    del values[name]
    return {name: sorted(found) for name, found in values.items() if found}

