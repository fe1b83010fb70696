"""The `incident-lens` command line: parses options, calls a library function, prints.

Each area keeps its commands in a `cli_<area>.py` module with `register(app)`; heavy libraries are
imported inside commands so `--help` stays fast.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperGroup

from incident_lens import offline
from incident_lens.config import Settings, load_settings, with_overrides
from incident_lens.errors import UserError

# Command modules, each with `register(app)`.
COMMAND_MODULES = ("incident_lens.cli_core", "incident_lens.cli_eval", "incident_lens.cli_search", "incident_lens.cli_llm")


class _OneLineErrors(TyperGroup):
    """Turns a UserError anywhere below into `error: ...` on stderr and exit code 2, no traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserError as exc:
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


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)


def main() -> None:
    app()
