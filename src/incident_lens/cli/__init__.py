"""The `incident-lens` command line: parses options, calls a pipeline, prints. Nothing else.

Each area keeps its commands in one module with `register(app)` (core, search, llm, evaluate, themes, distil, serve);
heavy libraries are imported inside commands so `--help` stays fast. Entry point: `main()`.
"""

from __future__ import annotations

from incident_lens.cli import core, distil, evaluate, llm, search, serve, themes
from incident_lens.cli.app import app, settings_from

for _module in (core, evaluate, search, llm, themes, distil, serve):
    _module.register(app)


def main() -> None:
    app()


__all__ = ["app", "main", "settings_from"]
