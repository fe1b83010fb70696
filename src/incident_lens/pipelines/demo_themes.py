"""The demo's themes step: fit themes on the demo index (its stored vectors: nothing is embedded again)
and show what is new or growing in the last four weeks; the planted failure mode should lead.

Usage: `found = themes_step(settings, console, "incidents", step="2b")` (from `demo.run_demo`).
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from incident_lens.errors import UserError

WINDOW, BASELINE = "4w", "52w"
SHOWN = 5


def themes_step(settings, console: Console, collection: str, step: str = "2b"):
    """Emerging themes of the demo index, printed; None (with the reason printed) when the demo's
    selection is too small for themes (e.g. `demo --limit 50`)."""
    from incident_lens.pipelines.themes import emerging_job, record_latest
    from incident_lens.themes.table import print_emerging_table

    console.print(f"[bold]{step}. What is new or growing?[/] themes of the indexed reports (PCA + HDBSCAN on their stored "
                  f"embeddings), the last {WINDOW} against the {BASELINE} before")
    try:
        found = emerging_job(settings, collection, window=WINDOW, baseline=BASELINE)
    except UserError as exc:
        console.print(f"   [yellow]skipped:[/] {escape(str(exc))}", soft_wrap=True)
        return None
    record_latest(settings, found.themes, found)
    print_emerging_table(found, out=console, limit=SHOWN)
    top = found.signals[0]
    theme = next(t for t in found.themes.model.themes if t.id == top.theme)
    if top.flagged:
        console.print(f"   top signal {theme.label} ({', '.join(k for k, _ in theme.keywords[:5])}): {top.a} reports in the window "
                      f"against {top.c} in the baseline, PRR {top.prr:.1f}; for example:", soft_wrap=True)
        for report_id, text in zip(theme.representatives[:3], found.themes.texts_of(theme.representatives[:3])):
            console.print(f"      [cyan]{escape(report_id)}[/] {escape(' '.join(text.split())[:160])}", soft_wrap=True)
    else:
        console.print("   no theme's share rose enough to be flagged")
    run = found.themes.summary()
    console.print(f"   {run['themes']} themes over {run['reports']:,} reports, {run['in_no_theme']:.0%} in no theme; "
                  f"`incident-lens emerging --report DIR` writes the timelines and tables")
    return found
