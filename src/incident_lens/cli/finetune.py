"""`optimise --optimizer finetune`: trains the model's weights (pipelines/finetuning.py) with a progress line.

Usage: incident-lens optimise --task harm --gold gold/harm.csv --optimizer finetune --epochs 2 --out optimized/harm-ft.json
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

console = Console()


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


def run_finetune(settings, task: str, gold: Path, out: Path | None, program: str = "zero-shot", **options) -> None:
    from incident_lens.cli.evaluate import _fmt_dev
    from incident_lens.inputs.task_files import find_task
    from incident_lens.pipelines.finetuning import finetune
    from incident_lens.pipelines.training_loop import StepReport
    from incident_lens.progress import job_progress
    from incident_lens.provenance import RunRecord

    workspace = settings.workspace.ensure()
    the_task = find_task(task, workspace)
    text_col = options.pop("text_col", None)
    split = options.pop("split", None)
    with RunRecord(workspace, "optimise", settings) as run:
        run.add_input("task", the_task.source, the_task.sha256)
        with job_progress(console) as progress:
            bar = None

            def hear(event) -> None:
                nonlocal bar
                if bar is None:  # only once the inputs are checked: an error stays one line
                    bar = progress.add_task("fine-tuning", total=None)
                if isinstance(event, StepReport):
                    progress.update(bar, completed=event.step, total=event.total_steps,
                                    description=f"step {event.step}/{event.total_steps} loss {event.loss:.3f} "
                                                f"{event.examples_per_s:.2f} ex/s ETA {_eta(event.eta_s)}")
                else:
                    progress.update(bar, description=str(event))

            result = finetune(the_task, gold, settings, out=out, program_kind=program, split_path=split,
                              text_cols=text_col or None, progress=hear, **options)
        meta = result.meta
        run.add_input("gold", gold, meta["gold"]["sha256"])
        run.set("optimizer", "finetune")
        run.set("program", program)
        run.set("dev_before", meta["dev_before"])
        run.set("dev_after", meta["dev_after"])
        run.set("training", meta["training"])
        run.set("output", str(result.path.absolute()))
        run.set("model_output", str(result.gguf_path.absolute()))
    for warning in result.warnings:
        console.print(f"[yellow]warning[/]: {warning}", soft_wrap=True)
    console.print(f"dev before: {_fmt_dev(meta['dev_before'])}" if meta["dev_before"] else f"dev: {meta['dev_note']}")
    if meta["dev_after"]:
        console.print(f"dev after:  {_fmt_dev(meta['dev_after'])}")
    training = meta["training"]
    console.print(f"{training['steps']}/{training['total_steps']} steps, {training['seconds']} s training, "
                  f"{training['examples_per_s']} examples/s, peak memory {training['peak_rss_mb']} MB", soft_wrap=True)
    console.print(f"wrote {result.gguf_path}, {result.path} and {result.meta_path}", soft_wrap=True)
    console.print("[yellow]the fine-tuned model has learned from the reports it was trained on: if the gold set is real "
                  "data, it must not leave the TRE[/]", soft_wrap=True)
