"""Themes page (`/themes`): shows the last `incident-lens themes` / `emerging` run of the workspace.

Usage: the app mounts `ROUTES`. The file is `<workspace>/themes/themes.json` (what those commands write
after every run; `serve --themes FILE` may name a `themes.json` from a `--report DIR` instead). It is read
on every visit (a new run shows without a restart) and never written. Flagged themes come first in
`emerging`'s rank order, then new ones, then the rest by size.
"""

from __future__ import annotations

import json
from pathlib import Path

from markupsafe import Markup
from starlette.requests import Request
from starlette.routing import Route

from incident_lens.web.pages import page

KEYWORDS_SHOWN = 12
REPRESENTATIVES_SHOWN = 5


def themes_path(config) -> Path:
    return Path(config.themes_file) if config.themes_file else config.settings.workspace.home / "themes" / "themes.json"


def themes(request: Request):
    path = themes_path(request.app.state.config)
    if not path.is_file():
        return page(request, "themes.html", {"themes": None, "path": path})
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return page(request, "themes.html", {"themes": None, "path": path, "problem": f"{path}: not readable as JSON ({type(exc).__name__}); run `incident-lens themes` again"})
    if not isinstance(raw, dict) or not isinstance(raw.get("themes"), list):
        return page(request, "themes.html", {"themes": None, "path": path, "problem": f"{path}: not a themes file written by `incident-lens themes`; run it again"})
    summary = raw.get("summary") or {}
    return page(request, "themes.html", {"themes": shown_themes(raw), "path": path, "outliers": summary.get("in_no_theme"),
                                         "collection": summary.get("collection"), "fitted_at": summary.get("fitted_at")})


def shown_themes(raw: dict) -> list[dict]:
    """The payload's themes joined with their emerging signal and summary, in the order the page shows them."""
    signals = (raw.get("emerging") or {}).get("signals") or []
    rank = {s["theme"]: n for n, s in enumerate(signals)}
    by_theme = {s["theme"]: s for s in signals}
    summaries = {s["theme"]: s for s in raw.get("summaries") or []}
    shown = [_theme(t, by_theme.get(t["id"], {}), summaries.get(t["id"], {})) for t in raw["themes"]]
    shown.sort(key=lambda t: (not t["emerging"], not t["new"], rank.get(t["id"], len(rank)) if t["emerging"] or t["new"] else 0, -t["size"]))
    return shown


def _theme(theme: dict, signal: dict, summary: dict) -> dict:
    # Only claims whose quotes were found in the reports are shown; a name is shown only beside one.
    claims = [c.get("text", "") for c in summary.get("claims") or [] if c.get("evidence_verified")]
    return {
        "id": theme["id"], "name": (summary.get("name") or "") if claims else "",
        "keywords": [str(k) for k in theme.get("keywords") or []][:KEYWORDS_SHOWN],
        "size": int(theme.get("size") or 0), "share": theme.get("share"), "summary": " ".join(c for c in claims if c),
        "emerging": bool(signal.get("flagged")), "new": bool(signal.get("new")),
        "window": signal.get("a"), "prr": signal.get("prr"),
        "representatives": [str(r) for r in theme.get("representatives") or []][:REPRESENTATIVES_SHOWN],
        "sparkline": sparkline([float(c) for c in signal.get("weekly") or []]),
    }


def sparkline(counts: list[float], width: int = 120, height: int = 24) -> Markup:
    """An inline SVG polyline of the weekly counts (no script, no external asset)."""
    if len(counts) < 2:
        return Markup("")
    top = max(counts) or 1.0
    step = width / (len(counts) - 1)
    points = " ".join(f"{i * step:.1f},{height - 2 - (c / top) * (height - 4):.1f}" for i, c in enumerate(counts))
    return Markup(f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
                  f'aria-label="weekly counts"><polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{points}"/></svg>')


ROUTES = [Route("/themes", themes)]
