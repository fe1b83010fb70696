"""Search commands: `index` (build or update an index from a report file), `search` and `similar`.

Usage:
    incident-lens index incidents.csv --text-col description --meta occurred_at --meta harm
    incident-lens search "enoxaparin omitted" -k 5 --where harm!="No harm" --since 2024-01-01
    incident-lens similar INC-0042 --format json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

from incident_lens.cli.app import ENCODING, SHEET
from incident_lens.display import console, print_hits_table, write_hits_csv
from incident_lens.errors import UserError

err_console = Console(stderr=True)
FORMATS = ("table", "json", "csv")

_COLLECTION = typer.Option("incidents", "--collection", help="Index name (one per dataset).")
_EMBEDDING_MODEL = typer.Option(None, "--embedding-model", help="Local sentence-transformers directory (default: the one the index was built with, else all-MiniLM-L6-v2).")
_EMBEDDING_BACKEND = typer.Option(None, "--embedding-backend", help="torch (the only one for now: int8 ONNX changed the neighbours, see bench/RESULTS.md).")
_K = typer.Option(None, "-k", help="Number of results (default: the k setting, 10).")
_WHERE = typer.Option(None, "--where", help="FIELD=VALUE, FIELD!=VALUE, 'FIELD in A,B' (repeatable, all must hold).")
_SINCE = typer.Option(None, "--since", help="On or after this date (YYYY-MM-DD).")
_UNTIL = typer.Option(None, "--until", help="On or before this date (YYYY-MM-DD).")
_MODE = typer.Option(None, "--mode", help="dense, lexical or hybrid (default: hybrid).")
_FORMAT = typer.Option("table", "--format", help="table, json or csv.")


def index(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="Report file: .csv, .tsv, .parquet, .jsonl or .xlsx."),
    text_col: Optional[List[str]] = typer.Option(None, "--text-col", help="Text column (repeatable: fields are joined under their names)."),
    id_col: Optional[str] = typer.Option(None, "--id-col", help="Id column (default: id, report_id or incident_id)."),
    meta: Optional[List[str]] = typer.Option(None, "--meta", help="Column to store for filters and display (repeatable)."),
    date_col: Optional[str] = typer.Option(None, "--date-col", help="Date column for --since/--until (default: first --meta column of dates)."),
    collection: str = _COLLECTION,
    prune: bool = typer.Option(False, "--prune", help="Remove reports whose ids are no longer in the file."),
    limit: int = typer.Option(0, "--limit", help="Index only the first N reports (0: all)."),
    encoding: Optional[str] = ENCODING,
    sheet: Optional[str] = SHEET,
    embedding_model: Optional[Path] = _EMBEDDING_MODEL,
    embedding_backend: Optional[str] = _EMBEDDING_BACKEND,
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Texts per embedding batch (default 32)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads (0: all cores)."),
) -> None:
    """Build or update a search index; re-running embeds only new or changed reports."""
    from incident_lens.cli.app import settings_from
    from incident_lens.pipelines.indexing import index_file
    from incident_lens.progress import callback, job_progress

    settings = settings_from(ctx, embedding_model=embedding_model, embedding_backend=embedding_backend, batch_size=batch_size, threads=threads,
                             encoding=encoding)
    with job_progress(err_console) as progress:
        bar = progress.add_task("indexing", total=None)
        result = index_file(settings, path, text_cols=text_col or None, id_col=id_col, meta_cols=meta or (), collection=collection,
                            prune=prune, date_col=date_col, limit=limit or None, sheet=sheet, progress=callback(progress, bar))
    for warning in result.reports.warnings:
        err_console.print(f"warning: {warning}", markup=False, soft_wrap=True)
    console.print(f"index '{collection}': {result.summary}", markup=False, soft_wrap=True)
    if result.themes is not None:
        console.print(f"themes: {result.themes['assigned']} new report(s) joined saved themes, {result.themes['in_no_theme']} in no theme, "
                      f"{result.themes['removed']} removed; run `incident-lens themes` to refit", markup=False, soft_wrap=True)


def search(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="What happened, in words."),
    k: Optional[int] = _K,
    where: Optional[List[str]] = _WHERE,
    since: Optional[str] = _SINCE,
    until: Optional[str] = _UNTIL,
    mode: Optional[str] = _MODE,
    output: str = _FORMAT,
    collection: str = _COLLECTION,
    embedding_model: Optional[Path] = _EMBEDDING_MODEL,
    embedding_backend: Optional[str] = _EMBEDDING_BACKEND,
) -> None:
    """Find the indexed reports most like QUERY."""
    if not query.strip():
        raise UserError("empty query; give some words to search for")
    _run(ctx, lambda index, **kw: index.query(query, **kw), query, k, where, since, until, mode, output, collection, embedding_model, embedding_backend)


def similar(
    ctx: typer.Context,
    report_id: str = typer.Argument(..., metavar="ID", help="Id of an indexed report."),
    k: Optional[int] = _K,
    where: Optional[List[str]] = _WHERE,
    since: Optional[str] = _SINCE,
    until: Optional[str] = _UNTIL,
    mode: Optional[str] = _MODE,
    output: str = _FORMAT,
    collection: str = _COLLECTION,
    embedding_model: Optional[Path] = _EMBEDDING_MODEL,
    embedding_backend: Optional[str] = _EMBEDDING_BACKEND,
) -> None:
    """Find the reports most like an indexed report (the report itself is left out)."""
    _run(ctx, lambda index, **kw: index.similar(report_id, **kw), f"reports like {report_id}", k, where, since, until, mode, output,
         collection, embedding_model, embedding_backend)


def _run(ctx, ask, title, k, where, since, until, mode, output, collection, embedding_model, embedding_backend) -> None:
    from incident_lens.cli.app import settings_from
    from incident_lens.pipelines.indexing import open_index
    from retrieval.filters import parse_where
    from retrieval.index import DEFAULT_MODE

    if output not in FORMATS:
        raise UserError(f"--format {output!r}: choose one of {', '.join(FORMATS)}")
    settings = settings_from(ctx, embedding_model=embedding_model, embedding_backend=embedding_backend)
    with open_index(settings, collection) as index:
        hits = ask(index, k=k or settings.k, where=parse_where(where or []), mode=mode or DEFAULT_MODE, since=since, until=until)
        fields = index.meta_fields
        date_field = index.date_field
    if output == "json":
        typer.echo(json.dumps([hit.to_dict() for hit in hits], indent=2, ensure_ascii=False))
    elif output == "csv":
        write_hits_csv(hits, fields)
    else:
        print_hits_table(hits, fields, date_field, title, mode or DEFAULT_MODE)


def register(app: typer.Typer) -> None:
    app.command("index")(index)
    app.command("search")(search)
    app.command("similar")(similar)
