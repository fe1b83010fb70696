"""The typer app every command registers on: global options, settings, and one-line errors.

Usage: command modules call `settings_from(ctx, **options)`; `incident_lens.cli` registers them. The
options shared by several commands (reading files, reaching a model server) are defined here once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperGroup

from incident_lens import offline
from incident_lens.config import Settings, load_settings, with_overrides
from incident_lens.errors import UserError
from retrieval.errors import RetrievalError

class _OneLineErrors(TyperGroup):
    """Turns a UserError (or a library's RetrievalError) anywhere below into `error: ...` on stderr
    and exit code 2, no traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (UserError, RetrievalError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=_OneLineErrors,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="Offline search, labelling and summaries of free-text clinical and patient-safety reports.",
)


@app.callback()
def _root(
    ctx: typer.Context,
    home: Optional[Path] = typer.Option(None, "--home", help="Workspace directory (default: $INCIDENT_LENS_HOME or ./.incident-lens)."),
    config: Optional[Path] = typer.Option(None, "--config", help="Settings file (default: ./incident-lens.toml if present)."),
) -> None:
    try:
        settings = load_settings(home=home, config_path=config)
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    offline.activate(settings.home)
    offline.install_socket_guard()
    ctx.obj = settings


def settings_from(ctx: typer.Context, **overrides) -> Settings:
    """The run's settings with this command's options applied (options left unset change nothing)."""
    return with_overrides(ctx.find_root().obj, overrides)


# Options shared by the commands that read report files; unset ones leave the settings' value.
ENCODING = typer.Option(None, "--encoding", help="Text encoding of CSV/TSV/JSONL files, e.g. cp1252 for a Windows "
                        "export (default: the encoding setting, utf-8).")
SHEET = typer.Option(None, "--sheet", help="Sheet of an .xlsx file to read (default: the first).")
# ... and by those that run a language model.
CONFIDENCE_SAMPLES = typer.Option(None, "--confidence-samples", help="LLM confidence: sample the answer N more times and give "
                                  "the share that agrees (N more model calls per report; default: the confidence_samples setting, 0: none).")
SERVER = typer.Option(None, "--server", help="Use an OpenAI-compatible server (llama-server, vLLM) at this URL instead of "
                      "a GGUF in process (default: the server setting).")
SERVER_MODEL = typer.Option(None, "--server-model", help="Which model of a --server that serves several (its id in GET /v1/models).")
ALLOW_REMOTE = typer.Option(False, "--allow-remote-server", help="Allow a --server that is not on this machine.")


def server_options(server: str | None, server_model: str | None, allow_remote_server: bool) -> dict:
    """The server options as settings overrides (an unset flag keeps the config file's value)."""
    return {"server": server, "server_model": server_model, "allow_remote_server": allow_remote_server or None}
