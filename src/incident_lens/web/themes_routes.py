"""Themes page (`/themes`): reads the themes JSON that `incident-lens themes` leaves in the workspace, if any.

Usage: the app mounts `ROUTES`. The file is `<workspace>/themes/themes.json` unless `serve --themes FILE`
names another; it is read on every visit (a new themes run shows without a restart) and never written.
Tolerant of its shape: a list of themes or `{"themes": [...]}`; each theme may have id, name, keywords,
size, share, emerging / new, weekly counts, representatives (ids or {id, ...}) and summary.
"""

from __future__ import annotations

import json
from pathlib import Path

from markupsafe import Markup
from starlette.requests import Request
from starlette.routing import Route

from incident_lens.web.pages import page


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
    found = raw.get("themes", []) if isinstance(raw, dict) else raw
    if not isinstance(found, list):
        return page(request, "themes.html", {"themes": None, "path": path, "problem": f"{path}: no list of themes in it"})
    shown = [_theme(t, i) for i, t in enumerate(found) if isinstance(t, dict)]
    shown.sort(key=lambda t: (not t["emerging"], not t["new"], -t["size"]))
    return page(request, "themes.html", {"themes": shown, "path": path, "outliers": raw.get("outlier_share") if isinstance(raw, dict) else None})


def _theme(theme: dict, position: int) -> dict:
    keywords = theme.get("keywords") or []
    if isinstance(keywords, str):
        keywords = [k.strip() for k in keywords.split(",") if k.strip()]
    summary = theme.get("summary") or ""
    name = theme.get("name") or ""
    if isinstance(summary, dict):
        name = name or summary.get("name", "")
        summary = summary.get("summary", "")
    representatives = []
    for rep in theme.get("representatives") or theme.get("representative_ids") or []:
        representatives.append(str(rep.get("id", "")) if isinstance(rep, dict) else str(rep))
    weekly = theme.get("weekly") or theme.get("weekly_counts") or theme.get("counts") or []
    if isinstance(weekly, dict):
        weekly = [weekly[k] for k in sorted(weekly)]
    counts = [float(c) for c in weekly if isinstance(c, (int, float))]
    return {
        "id": theme.get("id", position), "name": name, "keywords": [str(k) for k in keywords][:12],
        "size": int(theme.get("size") or 0), "share": theme.get("share"), "summary": str(summary),
        "emerging": bool(theme.get("emerging")), "new": bool(theme.get("new")),
        "representatives": [r for r in representatives if r][:5], "sparkline": sparkline(counts),
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
