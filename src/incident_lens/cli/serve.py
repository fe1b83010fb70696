"""`incident-lens serve`: the local web app (search, reports, themes, review) over a warm index.

Usage:
    incident-lens serve                                   # http://127.0.0.1:8765, index 'incidents'
    incident-lens serve --queue review/harm-queue.csv --task harm --port 8800
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

err_console = Console(stderr=True)


def serve(
    ctx: typer.Context,
    port: int = typer.Option(8765, "--port", help="TCP port."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; anything but loopback lets other machines in (a warning is printed)."),
    collection: str = typer.Option("incidents", "--collection", help="Index to search (one per dataset)."),
    queue: Optional[List[Path]] = typer.Option(None, "--queue", help="Review queue CSV (from review-queue) or labels file (from label); repeatable."),
    task: Optional[str] = typer.Option(None, "--task", help="Task whose labels a correction must be one of (default: any label)."),
    themes: Optional[Path] = typer.Option(None, "--themes", help="Themes JSON to show (default: <workspace>/themes/themes.json)."),
    embedding_model: Optional[Path] = typer.Option(None, "--embedding-model", help="Local sentence-transformers directory (default: the one the index was built with)."),
) -> None:
    """Start the local web app; the model and index load once and stay warm. Ctrl-C stops it."""
    from incident_lens.cli.app import settings_from
    from incident_lens.errors import UserError
    from incident_lens.web.app import WebConfig, create_app
    from incident_lens.web.server import exposure_warning, serve as run_server

    if not 1 <= port <= 65535:
        raise UserError(f"--port {port}: give a port from 1 to 65535")
    warning = exposure_warning(host)
    if warning:
        err_console.print(f"warning: {warning}", markup=False, soft_wrap=True)
    settings = settings_from(ctx, embedding_model=embedding_model)
    err_console.print(f"loading index '{collection}' and the embedding model ...", markup=False)
    app = create_app(WebConfig(settings, collection, list(queue or []), task, themes))
    shown = f"[{host}]" if ":" in host else host
    err_console.print(f"incident-lens is serving at http://{shown}:{port}/  (Ctrl-C to stop)", markup=False)
    run_server(app, host, port)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
