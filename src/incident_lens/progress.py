"""One progress display for long jobs: bar, count, rate and ETA (rich).

Usage: `with job_progress(console) as progress: bar = progress.add_task("embedding", total=n)`;
`callback(progress, bar)` gives the `(done, total)` callable that library functions accept.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text


class RateColumn(ProgressColumn):
    """Items per second (or per minute when slow, as LLM labelling is)."""

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed:
            return Text("  -  /s")
        return Text(f"{speed:6.1f}/s" if speed >= 1 else f"{speed * 60:6.1f}/min")


def job_progress(console: Console | None = None) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console)


def callback(progress: Progress, bar):
    def update(done: int, total: int | None = None) -> None:
        progress.update(bar, completed=done, total=total)
    return update
