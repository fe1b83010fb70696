"""Search-page input from the URL, checked: every bad value becomes one clear message, never an exception page.

Usage: `params, problems = SearchParams.from_query(request.query_params, fields, choices)`;
`params.where()` is the Chroma filter; `params.url(k=20)` the shareable link with one value changed.
The query lives in the URL (q, mode, k, since, until, f.FIELD for drop-downs, where for typed filters).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from retrieval.errors import RetrievalError
from retrieval.filters import parse_bound, parse_where, where_fields
from retrieval.search import DEFAULT_MODE, MODES

MAX_QUERY = 2000
MAX_K = 100
DEFAULT_K = 10
MAX_WHERE = 10


@dataclass(frozen=True)
class SearchParams:
    q: str = ""
    mode: str = DEFAULT_MODE
    k: int = DEFAULT_K
    since: str = ""
    until: str = ""
    fields: dict = field(default_factory=dict)  # drop-down field -> chosen value
    typed: tuple = ()  # FIELD=VALUE expressions as typed

    @classmethod
    def from_query(cls, query, fields: list[str], date_field: str | None, default_k: int = DEFAULT_K) -> tuple["SearchParams", list[str]]:
        """The parameters and a list of problems (empty when all is well); bad values fall back to defaults."""
        problems: list[str] = []
        q = " ".join(str(query.get("q", "")).split())
        if len(q) > MAX_QUERY:
            problems.append(f"query: {len(q):,} characters; at most {MAX_QUERY:,} (search with the key words)")
            q = q[:MAX_QUERY]
        mode = query.get("mode") or DEFAULT_MODE
        if mode not in MODES:
            problems.append(f"mode {mode!r}: choose one of {', '.join(MODES)}")
            mode = DEFAULT_MODE
        k = default_k
        raw_k = (query.get("k") or "").strip()
        if raw_k:
            if raw_k.isdigit() and 1 <= int(raw_k) <= MAX_K:
                k = int(raw_k)
            else:
                problems.append(f"results {raw_k!r}: give a whole number from 1 to {MAX_K}")
        since, until = (query.get("since") or "").strip(), (query.get("until") or "").strip()
        for name, value in (("since", since), ("until", until)):
            if value and not date_field:
                problems.append(f"{name}: this index has no date field to filter by; re-index it with a date column")
            elif value:
                try:
                    parse_bound(value, name)
                except RetrievalError as exc:
                    problems.append(str(exc))
        if since and until and not problems and parse_bound(since, "since") > parse_bound(until, "until"):
            problems.append(f"since {since} is after until {until}: nothing can match")
        chosen = {}
        for key in query.keys():
            if key.startswith("f."):
                name, value = key[2:], str(query.get(key) or "").strip()
                if not value:
                    continue
                if name not in fields:
                    problems.append(f"unknown filter field {name!r}; fields in this index: {', '.join(fields) or 'none'}")
                else:
                    chosen[name] = value
        typed = tuple(w.strip() for w in query.getlist("where") if w.strip()) if hasattr(query, "getlist") else ()
        if len(typed) > MAX_WHERE:
            problems.append(f"at most {MAX_WHERE} typed filters")
            typed = typed[:MAX_WHERE]
        params = cls(q, mode, k, since, until, chosen, typed)
        try:
            unknown = sorted(where_fields(params.where()) - set(fields))
            if unknown:
                raise RetrievalError(f"unknown filter field {unknown[0]!r}; fields in this index: {', '.join(fields) or 'none'}")
        except RetrievalError as exc:
            problems.append(str(exc))
            params = replace(params, typed=())
        return params, problems

    def where(self) -> dict | None:
        clauses = [{name: value} for name, value in self.fields.items()]
        typed = parse_where(list(self.typed))
        if typed:
            clauses.extend(typed["$and"] if "$and" in typed else [typed])
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def pairs(self, **changes) -> list[tuple[str, str]]:
        params = replace(self, **changes)
        pairs = [("q", params.q), ("mode", params.mode), ("k", str(params.k))]
        pairs += [(name, value) for name, value in (("since", params.since), ("until", params.until)) if value]
        pairs += [(f"f.{name}", value) for name, value in params.fields.items()]
        pairs += [("where", value) for value in params.typed]
        return pairs

    def url(self, **changes) -> str:
        return "/search?" + urlencode(self.pairs(**changes))
