"""The ranked emerging-themes table for a terminal (rich), with a weekly sparkline per theme.

Usage: `print_emerging_table(emerging_run, out=Console(), limit=5)`; used by `emerging` and the demo.
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from incident_lens.themes.emerging import sparkline

# Weeks of sparkline on a wide terminal (120+ columns), a middling one, and a narrow one.
SPARK_WEEKS = (26, 13, 8)
# Below this width the keywords leave the table for a line per theme under it (in the table they would be
# cut into a few letters).
KEYWORDS_IN_TABLE_WIDTH = 100


def print_emerging_table(found, out: Console, limit: int | None = None) -> None:
    """The ranked emerging table with weekly sparklines."""
    by_id = {t.id: t for t in found.themes.model.themes}
    span = found.span
    wide, middling, narrow = SPARK_WEEKS
    weeks = min(wide if out.width >= 120 else middling if out.width >= KEYWORDS_IN_TABLE_WIDTH else narrow, len(found.weeks))
    keywords_in_table = out.width >= KEYWORDS_IN_TABLE_WIDTH
    table = Table(title=f"emerging themes: window {span.window_start} to {span.end}, baseline from {span.baseline_start}",
                  box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, caption=f"n: reports in window / baseline; PRR [95% lower bound]; q: Benjamini-Hochberg; weekly: last {weeks} weeks")
    for name in ("#", "theme", "n", "PRR [low]", "q", "flag", "weekly"):
        table.add_column(name, no_wrap=True)
    if keywords_in_table:
        table.add_column("keywords", overflow="fold", ratio=1)
    shown = found.signals[:limit] if limit else found.signals
    for n, s in enumerate(shown, start=1):
        theme = by_id[s.theme]
        flag = " ".join((["[bold red]signal[/]"] if s.flagged else []) + (["[bold]new[/]"] if s.new else []))
        table.add_row(str(n), theme.label, f"{s.a}/{s.c}", f"{s.prr:.1f} [{s.prr_low:.1f}]",
                      "-" if s.q is None else f"{s.q:.2g}", flag, sparkline(found.counts[found.row_of(s.theme)][-weeks:]),
                      *([escape(_keywords(theme))] if keywords_in_table else []))
    out.print(table)
    if not keywords_in_table:
        for s in shown:
            out.print(f"   {by_id[s.theme].label}: {escape(_keywords(by_id[s.theme]))}", soft_wrap=True)


def _keywords(theme, count: int = 4) -> str:
    return ", ".join(k for k, _ in theme.keywords[:count])
