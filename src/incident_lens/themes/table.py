"""The ranked emerging-themes table for a terminal (rich), with a weekly sparkline per theme.

Usage: `print_emerging_table(emerging_run, out=Console(), limit=5)`; used by `emerging` and the demo.
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from incident_lens.themes.emerging import sparkline

# Weeks of sparkline on a wide terminal (half on a narrow one).
SPARK_WEEKS = 26


def print_emerging_table(found, out: Console, limit: int | None = None) -> None:
    """The ranked emerging table with weekly sparklines."""
    by_id = {t.id: t for t in found.themes.model.themes}
    span = found.span
    weeks = min(SPARK_WEEKS if out.width >= 120 else SPARK_WEEKS // 2, len(found.weeks))
    table = Table(title=f"emerging themes: window {span.window_start} to {span.end}, baseline from {span.baseline_start}",
                  box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, caption=f"n: reports in window / baseline; PRR [95% lower bound]; q: Benjamini-Hochberg; weekly: last {weeks} weeks")
    for name in ("#", "theme", "n", "PRR [low]", "q", "flag", "weekly"):
        table.add_column(name, no_wrap=True)
    table.add_column("keywords", overflow="fold", ratio=1)
    for n, s in enumerate(found.signals[:limit] if limit else found.signals, start=1):
        theme = by_id[s.theme]
        flag = " ".join((["[bold red]signal[/]"] if s.flagged else []) + (["[bold]new[/]"] if s.new else []))
        table.add_row(str(n), theme.label, f"{s.a}/{s.c}", f"{s.prr:.1f} [{s.prr_low:.1f}]",
                      "-" if s.q is None else f"{s.q:.2g}", flag, sparkline(found.counts[found.row_of(s.theme)][-weeks:]),
                      escape(", ".join(k for k, _ in theme.keywords[:4])))
    out.print(table)
