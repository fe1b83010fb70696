"""Metadata filters and dates: FIELD=VALUE expressions to Chroma `where` dicts, dates to sortable ints.

Usage: `parse_where(["harm=none", "care_setting in acute,community"])`
-> `{"$and": [{"harm": "none"}, {"care_setting": {"$in": ["acute", "community"]}}]}`;
`date_key("2024-03-01") == 20240301`.
Chroma compares only numbers with `$gt`/`$lt`, so a report's date is also stored as the int
YYYYMMDD under `DATE_KEY`; the since / until bounds of a query filter on that.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from retrieval.errors import RetrievalError

DATE_KEY = "_date"
HASH_KEY = "_hash"
RESERVED_KEYS = (DATE_KEY, HASH_KEY)

_EXPR = re.compile(r"^\s*(?P<field>[^=!\s]+?)\s*(?:(?P<op>!=|=)|\s+(?P<word>not\s+in|in)\s+)(?P<value>.*)$", re.IGNORECASE)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T].*)?$")
_SLASH_DATE = re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$")


def parse_where(expressions: list[str]) -> dict | None:
    """`FIELD=VALUE`, `FIELD!=VALUE`, `FIELD in A,B`, `FIELD not in A,B`; several are ANDed."""
    clauses = [_parse_one(expr) for expr in expressions or ()]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _parse_one(expr: str) -> dict:
    match = _EXPR.match(expr)
    if not match:
        raise RetrievalError(f"filter {expr!r}: expected FIELD=VALUE, FIELD!=VALUE, 'FIELD in A,B' or 'FIELD not in A,B'")
    field, value = match["field"], match["value"].strip()
    if match["op"] == "=":
        return {field: value}
    if match["op"] == "!=":
        return {field: {"$ne": value}}
    values = [v.strip() for v in value.split(",") if v.strip()]
    if not values:
        raise RetrievalError(f"filter {expr!r}: give at least one value after '{match['word']}'")
    return {field: {"$nin" if match["word"].lower().startswith("not") else "$in": values}}


def where_fields(where: dict | None) -> set[str]:
    """Every metadata field a Chroma `where` dict mentions (operators like `$and` are walked into)."""
    found: set[str] = set()
    if not where:
        return found
    for key, value in where.items():
        if key in ("$and", "$or"):
            for clause in value:
                found |= where_fields(clause)
        elif not key.startswith("$"):
            found.add(key)
    return found


def date_key(value: str, dayfirst: bool = True) -> int | None:
    """The date in `value` as YYYYMMDD, or None when it is empty or not a date.
    ISO dates (with or without a time) always parse; d/m/y or m/d/y follows `dayfirst`."""
    value = str(value).strip()
    if not value:
        return None
    try:
        if _ISO_DATE.match(value):
            parsed = date.fromisoformat(value[:10])
        elif _SLASH_DATE.match(value):
            parsed = datetime.strptime(value, "%d/%m/%Y" if dayfirst else "%m/%d/%Y").date()
        else:
            return None
    except ValueError:
        return None
    return parsed.year * 10_000 + parsed.month * 100 + parsed.day


def detect_date_order(values) -> bool | None:
    """How a column writes its dates: True for day-first, False for month-first, None if it is
    not a date column (see `DateOrder`)."""
    order = DateOrder()
    order.feed(values)
    return order.result


class DateOrder:
    """`detect_date_order` for a column read in pieces: `feed` each piece, then read `result`.
    Slash dates that parse both ways are read day-first (the NHS convention); a single value like
    07/13/1990 settles the column as month-first."""

    def __init__(self) -> None:
        self.seen = False
        self.dayfirst_fits = True
        self.monthfirst_fits = True

    def feed(self, values) -> None:
        for value in values:
            if not (self.dayfirst_fits or self.monthfirst_fits):
                return
            value = str(value).strip()
            if not value:
                continue
            self.seen = True
            if self.dayfirst_fits and date_key(value, dayfirst=True) is None:
                self.dayfirst_fits = False
            if self.monthfirst_fits and date_key(value, dayfirst=False) is None:
                self.monthfirst_fits = False

    @property
    def result(self) -> bool | None:
        if not self.seen:
            return None
        if self.dayfirst_fits:
            return True
        return False if self.monthfirst_fits else None


def parse_bound(value: str | None, option: str) -> int | None:
    """A since / until bound (YYYY-MM-DD) as YYYYMMDD; `option` names it in the error."""
    if value is None or not str(value).strip():
        return None
    key = date_key(value) if _ISO_DATE.match(str(value).strip()) else None
    if key is None:
        raise RetrievalError(f"{option} {value!r}: give a date as YYYY-MM-DD")
    return key
