"""Theme commands: `themes` (what are the reports about?) and `emerging` (what is new or growing?).

Usage:
    incident-lens themes --min-size 15 --report reports/themes
    incident-lens themes --where "care_setting=Mental health" --format json
    incident-lens emerging --window 4w --baseline 52w --min-count 3 --report reports/emerging
    incident-lens emerging --summarise --model m.gguf       # name and summarise the flagged themes
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from incident_lens.cli.app import ALLOW_REMOTE, SERVER, SERVER_MODEL, server_options
from incident_lens.errors import UserError
from incident_lens.themes.table import print_emerging_table

console = Console()
err_console = Console(stderr=True)
FORMATS = ("table", "json", "csv")

_COLLECTION = typer.Option("incidents", "--collection", help="Index name.")
_WHERE = typer.Option(None, "--where", help="FIELD=VALUE, FIELD!=VALUE, 'FIELD in A,B' (repeatable, all must hold).")
_SINCE = typer.Option(None, "--since", help="Only reports on or after this date (YYYY-MM-DD).")
_MIN_SIZE = typer.Option(15, "--min-size", help="Smallest theme, in reports.")
_SEED = typer.Option(None, "--seed", help="Seed of the fitting sample (used above --sample reports; default: the seed setting).")
_SAMPLE = typer.Option(50_000, "--sample", help="HDBSCAN fits at most this many reports (a seeded sample); the rest join by centroid.")
_JOIN = typer.Option("close", "--join", help="Reports HDBSCAN left as noise join a theme when as close as its 5 % least similar "
                     "members (close), its least similar one (loose), or always the nearest theme (all: no report in no theme).")
_FORMAT = typer.Option("table", "--format", help="table, json or csv.")
_REPORT = typer.Option(None, "--report", help="Folder for themes.html, plots, themes.json/csv and members.csv.")
_SUMMARISE = typer.Option(False, "--summarise", help="Name and summarise themes with the language model (quotes checked).")
_THEME = typer.Option(None, "--theme", help="With --summarise: only this theme (T-number; repeatable).")
_MODEL = typer.Option(None, "--model", help="GGUF model for --summarise (default: the bundled SmolLM2-135M-Instruct).")
_TEMPLATE = typer.Option(None, "--chat-template", help="Chat template for a GGUF without one.")


def _fit_settings(settings, min_size: int, seed: Optional[int], sample: int, join: str = "close"):
    from incident_lens.themes.fitting import JOIN_RULES, FitSettings

    if sample < 2 * min_size:
        raise UserError(f"--sample {sample}: must be at least twice --min-size ({2 * min_size})")
    if join not in JOIN_RULES:
        raise UserError(f"--join {join}: use one of {', '.join(JOIN_RULES)}")
    return FitSettings(min_size=min_size, seed=settings.seed if seed is None else seed, max_fit_rows=sample,
                       threads=settings.cpu_threads, **JOIN_RULES[join])


def _check_format(output: str) -> None:
    if output not in FORMATS:
        raise UserError(f"--format {output!r}: choose one of {', '.join(FORMATS)}")


def _summaries(settings, run, summarise: bool, themes: list[str] | None) -> list[dict] | None:
    if not summarise:
        return None
    from incident_lens.pipelines.theme_summaries import summarise_themes
    from incident_lens.progress import callback, job_progress

    with job_progress(err_console) as progress:
        return summarise_themes(settings, run, themes, progress=callback(progress, progress.add_task("summarising themes", total=None)))


def themes(
    ctx: typer.Context,
    collection: str = _COLLECTION,
    where: Optional[List[str]] = _WHERE,
    since: Optional[str] = _SINCE,
    until: Optional[str] = typer.Option(None, "--until", help="Only reports on or before this date (YYYY-MM-DD)."),
    min_size: int = _MIN_SIZE,
    seed: Optional[int] = _SEED,
    sample: int = _SAMPLE,
    join: str = _JOIN,
    output: str = _FORMAT,
    report: Optional[Path] = _REPORT,
    summarise: bool = _SUMMARISE,
    theme: Optional[List[str]] = _THEME,
    model: Optional[Path] = _MODEL,
    chat_template: Optional[str] = _TEMPLATE,
    server: Optional[str] = SERVER,
    server_model: Optional[str] = SERVER_MODEL,
    allow_remote_server: bool = ALLOW_REMOTE,
) -> None:
    """Group the indexed reports into themes (saved in the workspace; ids kept across refits)."""
    from incident_lens.cli.app import settings_from
    from incident_lens.pipelines.themes import fit_themes_job

    _check_format(output)
    settings = settings_from(ctx, model_path=model, chat_template=chat_template, **server_options(server, server_model, allow_remote_server))
    run = fit_themes_job(settings, collection, where, since, until, _fit_settings(settings, min_size, seed, sample, join))
    summaries = _summaries(settings, run, summarise, theme)
    _emit(settings, run, None, summaries, output, report)


def emerging(
    ctx: typer.Context,
    collection: str = _COLLECTION,
    where: Optional[List[str]] = _WHERE,
    since: Optional[str] = _SINCE,
    until: Optional[str] = typer.Option(None, "--until", help="End of the window (YYYY-MM-DD; default: the last report's date)."),
    window: str = typer.Option("4w", "--window", help="Recent window, in days or weeks (28d, 4w)."),
    baseline: str = typer.Option("52w", "--baseline", help="Period before the window to compare with."),
    min_count: int = typer.Option(3, "--min-count", help="Fewest reports in the window for a theme to be tested."),
    new_within: Optional[str] = typer.Option(None, "--new-within", help="A theme is new when most members fall in this recent span (default: 3 windows)."),
    top: int = typer.Option(20, "--top", help="Themes in the table (flagged and new ones always; 0: all). JSON and CSV have every theme."),
    refit: Optional[bool] = typer.Option(None, "--refit/--no-refit", help="Refit (ids kept) even if the saved fit saw these reports / "
                                         "never: use the saved themes as they are (default: refit only when reports were added since the fit or the settings differ)."),
    min_size: int = _MIN_SIZE,
    seed: Optional[int] = _SEED,
    sample: int = _SAMPLE,
    join: str = _JOIN,
    output: str = _FORMAT,
    report: Optional[Path] = _REPORT,
    summarise: bool = _SUMMARISE,
    model: Optional[Path] = _MODEL,
    chat_template: Optional[str] = _TEMPLATE,
    server: Optional[str] = SERVER,
    server_model: Optional[str] = SERVER_MODEL,
    allow_remote_server: bool = ALLOW_REMOTE,
) -> None:
    """Rank themes whose share of reports rose in the recent window (PRR, chi-squared, BH), and new themes."""
    from incident_lens.cli.app import settings_from
    from incident_lens.pipelines.themes import emerging_job

    _check_format(output)
    if top < 0:
        raise UserError(f"--top {top}: give 0 (all themes) or more")
    settings = settings_from(ctx, model_path=model, chat_template=chat_template, **server_options(server, server_model, allow_remote_server))
    found = emerging_job(settings, collection, where, since, until, window, baseline, min_count, new_within,
                         _fit_settings(settings, min_size, seed, sample, join), refit=refit)
    labels = {t.id: t.label for t in found.themes.model.themes}
    chosen = [labels[s.theme] for s in found.signals if s.flagged or s.new]
    summaries = _summaries(settings, found.themes, summarise and bool(chosen), chosen)
    _emit(settings, found.themes, found, summaries, output, report, top)


def _emit(settings, run, found, summaries, output: str, report: Optional[Path], top: int = 0) -> None:
    from incident_lens.pipelines.themes import record_latest
    from incident_lens.themes.report import themes_payload, write_report

    record_latest(settings, run, found, summaries)
    if report is not None:
        paths = write_report(report, run, found, summaries)
        err_console.print(f"report: {paths['html']} (+ themes.json, themes.csv, members.csv"
                          + (", emerging.csv, plots/" if found is not None else "") + ")", markup=False, soft_wrap=True)
    if output == "json":
        typer.echo(json.dumps(themes_payload(run, found, summaries), indent=2, ensure_ascii=False, default=str))
    elif output == "csv":
        _write_csv(run, found)
    else:
        if found is not None:
            _print_emerging(run, found, top)
        else:
            _print_themes(run)
        if summaries:
            _print_summaries(summaries)


def _write_csv(run, found) -> None:
    writer = csv.writer(sys.stdout)
    if found is None:
        writer.writerow(["theme", "size", "share", "keywords", "representatives"])
        for r in run.rows():
            writer.writerow([r["id"], r["size"], r["share"], "; ".join(r["keywords"]), "; ".join(r["representatives"])])
        return
    labels = {t.id: t.label for t in run.model.themes}
    writer.writerow(["rank", "theme", "flagged", "new", "window", "baseline", "prr", "prr_low", "chi2", "q", "weekly"])
    for n, s in enumerate(found.signals, start=1):
        writer.writerow([n, labels[s.theme], s.flagged, s.new, s.a, s.c, f"{s.prr:.3f}", f"{s.prr_low:.3f}", f"{s.chi2:.2f}",
                         "" if s.q is None else f"{s.q:.3g}", " ".join(map(str, found.counts[found.row_of(s.theme)]))])


def _footer(run) -> str:
    s = run.summary()
    fit = s["settings"]
    carried = f", {s['carried_ids']} ids kept from the previous fit" if s["refitted"] else ", saved fit reused"
    return (f"{s['reports']:,} reports, {s['themes']} themes; in no theme: {s['in_no_theme']:.1%} "
            f"(HDBSCAN noise {s['hdbscan_noise']:.1%} before joining by centroid); min size {fit['min_size']}, PCA {fit['dims']} dims, "
            f"{fit['method']} {fit['selection']}, seed {fit['seed']}, fitted on {s['fitted_rows']:,}{carried}; {s['seconds']:.1f} s; "
            f"model {s['model_dir']}")


def _print_themes(run) -> None:
    table = Table("theme", "size", "share", "keywords", "representatives", title=f"themes of '{run.model.collection}'")
    for r in run.rows():
        table.add_row(r["id"], str(r["size"]), f"{r['share']:.1%}", escape(", ".join(r["keywords"][:8])), ", ".join(r["representatives"]))
    console.print(table)
    console.print(_footer(run), markup=False, soft_wrap=True)
    for note in run.notes:
        console.print(f"note: {note}", markup=False, soft_wrap=True)


def _print_emerging(run, found, top: int = 0) -> None:
    flagged = [s for s in found.signals if s.flagged or s.new]
    shown = len(found.signals) if top == 0 else max(top, max((found.signals.index(s) + 1 for s in flagged), default=0))
    print_emerging_table(found, out=console, limit=shown)
    if shown < len(found.signals):
        console.print(f"{len(found.signals) - shown} more themes not shown (--top 0 shows all; --format json or csv has every one)")
    by_id = {t.id: t for t in run.model.themes}
    for s in flagged:
        theme = by_id[s.theme]
        console.print(f"[bold]{theme.label}[/] representative reports:")
        for report_id, text in zip(theme.representatives, run.texts_of(theme.representatives)):
            console.print(f"   [cyan]{escape(report_id)}[/] {escape(' '.join(text.split())[:200])}", soft_wrap=True)
    if not flagged:
        console.print("no theme flagged: no share rose with PRR >= 2, chi-squared >= 4, enough reports and BH q <= 0.05")
    console.print(_footer(run) + f"; {found.undated} reports without a date left out", markup=False, soft_wrap=True)
    for note in run.notes:
        console.print(f"note: {note}", markup=False, soft_wrap=True)


def _print_summaries(summaries: list[dict]) -> None:
    for record in summaries:
        mark = "verified" if record["evidence_verified"] else "NOT verified"
        console.print(f"[bold]{record['theme']}[/] {escape(str(record['name'] or record['status']))} (evidence {mark})", soft_wrap=True)
        for claim in record["claims"]:
            quotes = "; ".join(f"“{q}”" for q in claim["evidence"])
            console.print(f"   - {escape(claim['text'])}  [dim]{escape(quotes)}[/]", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("themes")(themes)
    app.command("emerging")(emerging)
