"""What people and other tools read: `themes.html` (keyword and representative tables, share in no
theme, the run's settings, and a weekly timeline per emerging theme as PNG), `themes.json`,
`themes.csv`, `members.csv`, and for `emerging` also `emerging.csv`.

Usage: `paths = write_report(out_dir, themes_run, emerging_run=None, summaries=None)`;
`write_payload(path, themes_run, emerging_run, summaries)` writes the JSON alone (the workspace's latest run).
Every file is written to a temporary name and renamed, so a failed run leaves the old report whole.
"""

from __future__ import annotations

import csv
import html
import json
from pathlib import Path

import numpy as np

EXCERPT_CHARS = 400


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _atomic_csv(path: Path, header: list[str], rows) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    tmp.replace(path)


def themes_payload(run, emerging=None, summaries=None) -> dict:
    payload = {"summary": run.summary(), "themes": run.rows()}
    if emerging is not None:
        payload["emerging"] = emerging_payload(emerging)
    if summaries:
        payload["summaries"] = summaries
    return payload


def emerging_payload(emerging) -> dict:
    labels = {t.id: t.label for t in emerging.themes.model.themes}
    rows = []
    for s in emerging.signals:
        row = emerging.row_of(s.theme)
        rows.append({**s.to_dict(), "theme": labels[s.theme], "weekly": emerging.counts[row].tolist()})
    return {"span": emerging.span.to_dict(), "settings": emerging.settings, "undated_reports": emerging.undated,
            "week_starts": [str(w) for w in emerging.weeks], "weekly_totals": emerging.totals.tolist(), "signals": rows}


def write_payload(path: Path, run, emerging=None, summaries=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_text(path, json.dumps(themes_payload(run, emerging, summaries), indent=2, ensure_ascii=False, default=str))
    return path


def write_data_files(out: Path, run, emerging=None, summaries=None) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "themes.json", "csv": out / "themes.csv", "members": out / "members.csv"}
    write_payload(paths["json"], run, emerging, summaries)
    _atomic_csv(paths["csv"], ["theme", "size", "share", "core", "joined", "added", "first_date", "last_date", "keywords", "representatives"],
                [[r["id"], r["size"], r["share"], r["core"], r["joined"], r["added"], r["first_date"], r["last_date"],
                  "; ".join(r["keywords"]), "; ".join(r["representatives"])] for r in run.rows()])
    labels = {t.id: t.label for t in run.model.themes}
    members = run.model.members
    _atomic_csv(paths["members"], ["id", "theme", "how", "similarity"],
                [[i, labels.get(int(t), ""), h, "" if s != s else f"{s:.4f}"]
                 for i, t, h, s in zip(members["id"], members["theme"], members["how"], members["similarity"])])
    if emerging is not None:
        paths["emerging"] = out / "emerging.csv"
        _atomic_csv(paths["emerging"], ["rank", "theme", "flagged", "new", "window", "baseline", "window_share", "baseline_share",
                                        "prr", "prr_low", "prr_high", "chi2", "p", "q", "reasons"],
                    [[n, labels[s.theme], s.flagged, s.new, s.a, s.c, f"{s.window_share:.5f}", f"{s.baseline_share:.5f}",
                      f"{s.prr:.3f}", f"{s.prr_low:.3f}", f"{s.prr_high:.3f}", f"{s.chi2:.2f}", f"{s.p:.3g}",
                      "" if s.q is None else f"{s.q:.3g}", "; ".join(s.reasons)] for n, s in enumerate(emerging.signals, start=1)])
    return paths


def timeline_png(path: Path, emerging, row: int, title: str) -> None:
    """Weekly reports of one theme (bars) and its share of all reports (line), window shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    weeks = emerging.weeks
    counts = emerging.counts[row]
    share = counts / np.maximum(emerging.totals, 1)
    fig, ax = plt.subplots(figsize=(8, 2.6))
    ax.bar(range(len(weeks)), counts, color="#4c72b0", label="reports per week")
    ax.set_ylabel("reports")
    window_weeks = sum(1 for w in weeks if w >= emerging.span.window_start)
    ax.axvspan(len(weeks) - window_weeks - 0.5, len(weeks) - 0.5, color="#f0c808", alpha=0.25, label="window")
    twin = ax.twinx()
    twin.plot(range(len(weeks)), share * 100, color="#c44e52", linewidth=1.2, label="share of all reports (%)")
    twin.set_ylabel("% of reports")
    ticks = list(range(0, len(weeks), max(1, len(weeks) // 8)))
    ax.set_xticks(ticks, [str(weeks[i]) for i in ticks], rotation=30, fontsize=7, ha="right")
    ax.set_title(title, fontsize=9)
    fig.legend(loc="upper left", fontsize=7, frameon=False)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)


def write_report(out: Path, run, emerging=None, summaries=None) -> dict[str, Path]:
    """All files of a report into `out` (see the module docstring); returns their paths."""
    out = Path(out)
    paths = write_data_files(out, run, emerging, summaries)
    e = html.escape
    summary = run.summary()
    parts = [f"<!doctype html><meta charset='utf-8'><title>Themes: {e(summary['collection'])}</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}td,th{border-bottom:1px solid #ddd;"
             "padding:4px;vertical-align:top;text-align:left}table{border-collapse:collapse}.q{color:#555;font-size:90%}</style>",
             f"<h1>Themes of '{e(summary['collection'])}'</h1>",
             f"<p>{summary['reports']:,} reports, {summary['themes']} themes; <b>{summary['in_no_theme']:.1%} in no theme</b> "
             f"(HDBSCAN alone left {summary['hdbscan_noise']:.1%} as noise; the rest joined the nearest theme by centroid "
             f"similarity).</p>"]
    by_id = {t.id: t for t in run.model.themes}
    if emerging is not None:
        span = emerging.span
        parts.append(f"<h2>Emerging and new themes</h2><p>Window {span.window_start} to {span.end}; baseline "
                     f"{span.baseline_start} to {span.window_start} ({span.baseline_days} days). Flagged: PRR &ge; 2, "
                     f"chi-squared &ge; 4, at least {emerging.settings['min_count']} in the window, Benjamini-Hochberg q &le; 0.05 "
                     f"over the themes tested.</p>")
        plots = out / "plots"
        plots.mkdir(exist_ok=True)
        shown = [s for s in emerging.signals if s.flagged or s.new] or emerging.signals[:1]
        for s in shown:
            theme = by_id[s.theme]
            name = f"timeline-{theme.label}.png"
            timeline_png(plots / name, emerging, emerging.row_of(s.theme), f"{theme.label}: " + ", ".join(k for k, _ in theme.keywords[:5]))
            status = "flagged" if s.flagged else "not flagged (" + "; ".join(s.reasons) + ")"
            parts.append(f"<h3>{theme.label}{' (new)' if s.new else ''}: {status}</h3><p>{s.a} in the window "
                         f"({s.window_share:.1%} of reports) against {s.c} in the baseline ({s.baseline_share:.2%}); "
                         f"PRR {s.prr:.2f} (95% CI {s.prr_low:.2f}-{s.prr_high:.2f}), chi-squared {s.chi2:.1f}, "
                         f"q {'' if s.q is None else f'{s.q:.2g}'}</p><img src='plots/{name}' alt='weekly reports of {theme.label}'>")
            paths[f"plot_{theme.label}"] = plots / name
        parts.append("<table><tr><th>rank</th><th>theme</th><th>window</th><th>baseline</th><th>PRR (95% CI)</th>"
                     "<th>chi-squared</th><th>q</th><th>flag</th></tr>")
        for n, s in enumerate(emerging.signals, start=1):
            parts.append(f"<tr><td>{n}</td><td>{by_id[s.theme].label}</td><td>{s.a}</td><td>{s.c}</td><td>{s.prr:.2f} "
                         f"({s.prr_low:.2f}-{s.prr_high:.2f})</td><td>{s.chi2:.1f}</td><td>{'' if s.q is None else f'{s.q:.2g}'}</td>"
                         f"<td>{'flagged' if s.flagged else ''}{' new' if s.new else ''}</td></tr>")
        parts.append("</table>")
    parts.append("<h2>Themes</h2><table><tr><th>theme</th><th>size</th><th>share</th><th>keywords</th><th>representative reports</th></tr>")
    summaries_by = {s["theme"]: s for s in summaries or []}
    for row, theme in zip(run.rows(), run.model.themes):
        reps = "".join(f"<p class='q'><b>{e(i)}</b>: {e(t[:EXCERPT_CHARS])}{'...' if len(t) > EXCERPT_CHARS else ''}</p>"
                       for i, t in zip(theme.representatives, run.texts_of(theme.representatives)))
        named = summaries_by.get(theme.label)
        head = f"<b>{e(named['name'])}</b><br>" if named and named.get("name") else ""
        parts.append(f"<tr><td>{theme.label}</td><td>{row['size']}</td><td>{row['share']:.1%}</td><td>{head}{e(', '.join(row['keywords']))}</td>"
                     f"<td>{reps}</td></tr>")
    parts.append("</table><h2>Settings</h2><pre>" + e(json.dumps(summary, indent=2, default=str)) + "</pre>")
    paths["html"] = out / "themes.html"
    _atomic_text(paths["html"], "\n".join(parts))
    return paths
