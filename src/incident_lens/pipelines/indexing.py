"""The `index` pipeline: read a report file, embed what is new or changed, record the run.

Usage: `result = index_file(settings, Path("incidents.csv"), meta_cols=["harm"], progress=cb)`;
`result.summary` is the index's `IndexSummary`, `result.reports` the `ReportFile` read (streamed a
chunk at a time: the file is never held whole).
The search side needs no pipeline: `open_index(settings, collection)` gives a read-only index.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from incident_lens.config import Settings
from incident_lens.errors import UserError
from incident_lens.provenance import RunRecord
from incident_lens.inputs.report_files import ReportFile, open_reports
from incident_lens.pipelines.themes import assign_new_reports


@dataclass
class IndexResult:
    reports: ReportFile
    summary: "IndexSummary"  # noqa: F821 (retrieval.index, imported lazily)
    run_dir: Path
    themes: dict | None = None  # reports assigned to the saved theme model (None: no model saved)


def make_embedder(settings: Settings, model_path: Path | None = None):
    from retrieval.embedder import Embedder

    return Embedder(model_path or settings.embedding_model, backend=settings.embedding_backend, batch_size=settings.batch_size,
                    threads=settings.threads or None, cache_dir=settings.workspace.cache_dir)


def _model_for(settings: Settings, collection: str) -> Path | None:
    """The configured model; else the one an existing index was built with (so re-indexing and
    searching need no --embedding-model repeated); else None for the default."""
    from retrieval.index import recorded_model_path

    return settings.embedding_model or recorded_model_path(settings.workspace.index_dir, collection)


def open_index(settings: Settings, collection: str = "incidents", writable: bool = False):
    from retrieval.errors import IndexNotFound
    from retrieval.index import IncidentIndex

    settings.workspace.ensure()
    try:
        return IncidentIndex.open(settings.workspace.index_dir, collection, make_embedder(settings, _model_for(settings, collection)),
                                  writable=writable)
    except IndexNotFound as exc:
        raise UserError(f"{exc}; build it first with `incident-lens index FILE --collection {collection}`") from None


def index_file(
    settings: Settings,
    path: Path,
    text_cols: list[str] | None = None,
    id_col: str | None = None,
    meta_cols: list[str] | tuple[str, ...] = (),
    collection: str = "incidents",
    prune: bool = False,
    date_col: str | None = None,
    limit: int | None = None,
    encoding: str | None = None,
    progress=None,
    sheet: str | None = None,
) -> IndexResult:
    """Index the reports in `path` into `collection`; idempotent, resumable after a kill.
    `encoding` defaults to `settings.encoding`; `sheet` picks the sheet of an .xlsx file."""
    if limit and prune:
        raise UserError("--prune with --limit would delete every report past the limit; use one or the other")
    workspace = settings.workspace.ensure()
    reports = open_reports(Path(path), text_cols, id_col, max_chars=settings.max_chars, encoding=encoding or settings.encoding,
                           cache_dir=workspace.cache_dir, limit=limit, sheet=sheet)
    reports.require(list(meta_cols))
    reports.require([date_col] if date_col else [], "--date-col")
    with RunRecord(workspace, "index", settings) as run:
        run.add_input("reports", path, reports.sha256)
        run.set("collection", collection)
        run.set("columns", {"text": reports.text_cols, "id": reports.id_col, "meta": list(meta_cols), "date": date_col})
        with open_index(settings, collection, writable=True) as index:
            run.set("embedding", index.embedder.describe())
            summary = index.add(reports, meta_cols=list(meta_cols), prune=prune, progress=progress, date_col=date_col)
            # Reports new to a saved theme model join its themes now; a refit (`themes`) can form new ones.
            themes = assign_new_reports(settings, index)
        summary = replace(summary, skipped=summary.skipped + reports.skipped_empty)
        run.set("summary", summary.to_dict())
        for key in ("added", "updated", "meta_updated", "unchanged", "skipped", "pruned"):
            run.count(key, getattr(summary, key))
        if themes is not None:
            run.set("themes", themes)
    return IndexResult(reports, summary, run.dir, themes)
