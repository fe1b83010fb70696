"""Search hits for people: a rich table (or blocks on a narrow terminal) and CSV on stdout.

Usage: `print_hits_table(hits, ["category", "harm"], "occurred_at", "query", "hybrid")`; used by the
`search` / `similar` commands and the demo.
"""

from __future__ import annotations

import csv
import sys

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table

console = Console()
# Metadata shown in the table besides the date; the full set is in json/csv.
TABLE_META_FIELDS = 4
# Below this many columns the hits are printed as blocks rather than a table.
WIDE_TERMINAL = 120


def write_hits_csv(hits, fields: list[str]) -> None:
    writer = csv.writer(sys.stdout)
    writer.writerow(["rank", "id", "score", "similarity", *fields, "snippet"])
    for hit in hits:
        writer.writerow([hit.rank, hit.id, f"{hit.score:.6g}", f"{hit.similarity:.4f}", *(hit.metadata.get(f, "") for f in fields), hit.snippet])


def print_hits_table(hits, fields: list[str], date_field: str | None, title: str, mode: str) -> None:
    """A table on a wide terminal; on a narrow one (or a pipe, 80 columns) one header line per hit with
    its passage below, since a passage squeezed into a narrow column is unreadable."""
    if not hits:
        console.print("no matching reports")
        return
    shown = [f for f in fields if f != date_field][:TABLE_META_FIELDS]
    # In dense mode the score is the cosine similarity: one column says it.
    numbers = ("score",) if mode == "dense" else ("score", "cosine")

    def cells(hit) -> list[str]:
        scores = [f"{hit.score:.3f}"] if mode == "dense" else [f"{hit.score:.4f}", f"{hit.similarity:.3f}"]
        date = [str(hit.metadata.get(date_field, ""))] if date_field else []
        return [str(hit.rank), hit.id, *scores, *date, *(str(hit.metadata.get(f, "")) for f in shown)]

    if console.width < WIDE_TERMINAL:
        console.print(f"[bold]{escape(title)}[/] ({mode})  [dim]rank id {' '.join(numbers)} {'date ' if date_field else ''}{' '.join(shown)}[/]")
        for hit in hits:
            console.print("  " + "  ".join(escape(c) for c in cells(hit)), style="cyan", soft_wrap=True)
            console.print(Padding(escape(hit.snippet), (0, 0, 0, 6)))
        return
    # expand + ratio: the fixed columns keep their natural width, the passage takes the rest.
    table = Table(title=f"{title} ({mode})", show_lines=True, expand=True)
    for name in ("rank", "id", *numbers, *(["date"] if date_field else [])):
        table.add_column(name, no_wrap=True)
    for name in shown:
        table.add_column(name, overflow="fold", max_width=18)
    table.add_column("passage", overflow="fold", ratio=1)
    for hit in hits:
        table.add_row(*cells(hit), hit.snippet)
    console.print(table)
