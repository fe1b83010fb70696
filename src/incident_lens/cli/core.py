"""Core commands: `doctor`, `tasks` (list, show) and `demo`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table


console = Console()


def doctor(ctx: typer.Context,
           model: Optional[Path] = typer.Option(None, "--model", help="GGUF model file to check (default: the bundled SmolLM2-135M-Instruct)."),
           chat_template: Optional[str] = typer.Option(None, "--chat-template", help="Chat template: chatml, gemma, llama3, mistral, phi3, or a Jinja file (default: the GGUF's own; needed for a GGUF without one)."),
           embedding_model: Optional[Path] = typer.Option(None, "--embedding-model", help="Local sentence-transformers directory.")) -> None:
    """Print versions, workspace, models, threads and offline guards; exit 1 if anything is wrong."""
    from incident_lens.cli.app import settings_from
    from incident_lens.pipelines.doctor import run_checks

    checks = run_checks(settings_from(ctx, model_path=model, chat_template=chat_template, embedding_model=embedding_model))
    table = Table("section", "check", "value", "ok", title="incident-lens doctor")
    for check in checks:
        table.add_row(check.section, check.name, check.value, "[green]ok[/]" if check.ok else "[red]PROBLEM[/]")
    console.print(table)
    problems = [c for c in checks if not c.ok]
    if problems:
        console.print(f"[red]{len(problems)} problem(s)[/]: " + "; ".join(f"{c.section}/{c.name}" for c in problems))
        raise typer.Exit(1)


tasks_app = typer.Typer(help="List the labelling tasks, or show one.", invoke_without_command=True)


@tasks_app.callback()
def tasks_list(ctx: typer.Context) -> None:
    """List built-in tasks and the user's own (in <workspace>/tasks/)."""
    if ctx.invoked_subcommand:
        return
    from incident_lens.inputs.task_files import list_tasks

    settings = ctx.find_root().obj
    table = Table("task", "kind", "labels", "reads", "file", title="tasks")
    for task in list_tasks(settings.workspace).values():
        table.add_row(task.name, task.kind, str(len(task.labels)), ", ".join(task.input_fields), str(task.source))
    console.print(table)


@tasks_app.command("show")
def tasks_show(ctx: typer.Context, name: str = typer.Argument(..., help="Task name or task file path.")) -> None:
    """Print one task: its description and every label with its definition."""
    from incident_lens.inputs.task_files import find_task

    task = find_task(name, ctx.find_root().obj.workspace)
    console.print(f"[bold]{task.name}[/] ({task.kind}) reads {', '.join(task.input_fields)}"
                  + (f"; gold column '{task.label_column}'" if task.label_column else ""))
    console.print(f"file: {task.source}  sha256: {task.sha256[:16]}")
    console.print(task.description, soft_wrap=True)
    table = Table("label", "definition", show_lines=True)
    for label in task.labels:
        table.add_row(label.name, label.definition)
    console.print(table)


def demo(ctx: typer.Context,
         model: Optional[Path] = typer.Option(None, "--model", help="GGUF model for labelling, summaries and LLM evaluation (default: the bundled SmolLM2-135M-Instruct)."),
         chat_template: Optional[str] = typer.Option(None, "--chat-template", help="Chat template: chatml, gemma, llama3, mistral, phi3, or a Jinja file (default: the GGUF's own; needed for a GGUF without one)."),
         limit: int = typer.Option(0, "--limit", help="Use only the first N demo reports (0: all)."),
         ) -> None:
    """Run the main job end to end on the bundled demo data."""
    from incident_lens.cli.app import settings_from
    from incident_lens.pipelines.demo import run_demo

    settings = settings_from(ctx, model_path=model, chat_template=chat_template)
    run_demo(settings, console=console, limit=limit or None)


def register(app: typer.Typer) -> None:
    app.command()(doctor)
    app.add_typer(tasks_app, name="tasks")
    app.command()(demo)
