"""Compiling into weights: fine-tune the local GGUF model on a gold set's train split, write a new GGUF and a
compiled program that runs it (`optimise --optimizer finetune`).

Usage:
    result = finetune(task, Path("data/gold/harm.csv"), settings, out=Path("optimized/harm-ft.json"), epochs=2)
    # writes optimized/harm-ft.json (the program), harm-ft.meta.json, harm-ft.gguf (the trained model)
Order: checks first (train rows, a local llama GGUF the writer can write back, disk room), then dev scored
with the base model through llama.cpp, training (`training_loop`, checkpoints under
`<workspace>/finetune/<key>/`: the same command resumes a killed run), the GGUF written, dev scored again
through llama.cpp on the new file. The program's meta names the GGUF; `label`, `evaluate` and `summarise`
with `--program FILE.json` run it (`compiled.finetuned_model_path`). The model has learned from the
reports it saw: `trained_on_reports: true`, and like any compiled program it must not leave the TRE.
"""

from __future__ import annotations

import hashlib
import json
import resource
import shutil
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from incident_lens.errors import UserError
from incident_lens.inputs.gold import load_sets
from incident_lens.inputs.task_files import Task
from incident_lens.pipelines.compiled import META_FORMAT, ids_digest, save_compiled, write_meta
from incident_lens.pipelines.training_loop import TrainConfig, train
from incident_lens.provenance import library_versions

MIN_TRAIN_ROWS = 8
INSTRUCTIONS = ("brief", "program")
# Prompt + answer tokens of one example; longer reports are cut to fit (and counted).
MAX_TRAIN_TOKENS = 4096
# Room kept free on top of what the files need.
DISK_MARGIN = 200 * 1024 * 1024


@dataclass
class FinetuneResult:
    path: Path
    meta_path: Path
    gguf_path: Path
    meta: dict
    warnings: list[str] = field(default_factory=list)


def brief_instructions(task: Task) -> str:
    """The task and its label names without their definitions: the weights learn what the labels mean, and a
    prompt a third as long trains three times faster (definitions: `--instructions program`)."""
    from programs.signatures import instructions

    full = instructions(task).split("\n")
    ask = next(line for line in full if line.startswith(("Choose", "Give every finding")))
    names = "Findings: " if task.kind == "findings" else "Labels: "
    return "\n".join([task.description, "", names + "; ".join(task.label_names), "", ask])


def student_program(task: Task, instructions: str):
    """The zero-shot labeller the model is trained for, with the instructions it will be run with."""
    from programs import build_program

    if instructions not in INSTRUCTIONS:
        raise UserError(f"--instructions {instructions}: use one of {', '.join(INSTRUCTIONS)}")
    program = build_program(task, "zero-shot")
    if instructions == "brief":
        predictor = program.predictors()[0]
        predictor.signature = predictor.signature.with_instructions(brief_instructions(task))
    return program


def _check_disk(folder: Path, needed: int, what: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if free < needed + DISK_MARGIN:
        raise UserError(f"{folder}: {free / 1e9:.2f} GB free, {what} needs about {(needed + DISK_MARGIN) / 1e9:.2f} GB; "
                        "free some space or choose another --out / --home")


def _param_count(path: Path) -> int:
    from gguf import GGUFReader

    return int(sum(int(t.n_elements) for t in GGUFReader(path).tensors))


def run_key(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:24]


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def finetune(task: Task, gold_path: Path, settings, out: Path | None = None, program_kind: str = "zero-shot",
             epochs: int = 2, lr: float = 5e-5, max_minutes: float | None = None, seed: int | None = None,
             batch_size: int = 8, quant: str = "f16", instructions: str = "brief", split_path: Path | None = None,
             split_seed: int | None = None, text_cols: list[str] | None = None, id_col: str | None = None,
             sheet: str | None = None, dev_limit: int | None = None, score_dev: bool = True,
             checkpoint_every: int = 10, progress=None, after_step=None, reports: Path | None = None) -> FinetuneResult:
    """Fine-tune the settings' GGUF on the train split and write program, meta and GGUF (see the module docstring).

    `progress(StepReport | str)` hears each step and each phase; `after_step(step)` runs after each step."""
    import dspy
    import torch

    from incident_lens.llm import build_lm, engine_of
    from incident_lens.llm.default_model import resolve_model_path
    from incident_lens.llm.gguf_info import inspect_gguf
    from incident_lens.llm.gguf_weights import GGUFWeightsError, QUANTS, check_writable, read_llama_gguf, torch_model, write_llama_gguf
    from incident_lens.pipelines.optimising import dev_scores
    from incident_lens.pipelines.training_data import examples_sha256, render_examples

    say = progress or (lambda _event: None)
    if program_kind != "zero-shot":
        raise UserError(f"--program {program_kind}: fine-tuning trains the zero-shot program (its prompt holds no retrieved examples)")
    if settings.server:
        raise UserError("--optimizer finetune trains a local GGUF file: give --model PATH.gguf, not --server")
    if epochs < 1 or lr <= 0 or batch_size < 1:
        raise UserError("--epochs and --batch-size must be at least 1 and --lr above 0")
    if quant not in QUANTS:
        raise UserError(f"--quant {quant}: use one of {', '.join(QUANTS)}")
    if instructions not in INSTRUCTIONS:
        raise UserError(f"--instructions {instructions}: use one of {', '.join(INSTRUCTIONS)}")
    out = Path(out or Path("optimized") / f"{task.name}-finetuned.json")
    if out.suffix != ".json":
        raise UserError(f"--out {out}: a compiled program is a .json file (the GGUF is written beside it)")
    gguf_out = out.with_suffix(".gguf")
    seed = settings.seed if seed is None else seed
    from incident_lens.inputs.pseudo_labels import is_labels_file, pseudo_gold

    pseudo = None
    if reports is not None:
        # Pseudo-labels: a labels file written by `label`, joined to the reports it labelled (inside the workspace).
        gold_path, pseudo = pseudo_gold(gold_path, reports, task, settings.workspace.ensure(), text_cols, id_col,
                                        settings.encoding, sheet, settings.max_chars)
        text_cols, id_col = ["text"], None
    elif is_labels_file(gold_path, settings.encoding):
        raise UserError(f"{gold_path}: a labels file written by `label` has no report text; give the reports it labelled "
                        "with --reports FILE")
    train_set, dev, _test, split = load_sets(task, gold_path, settings, None, split_path, split_seed, text_cols, id_col, sheet=sheet)
    if len(train_set) < MIN_TRAIN_ROWS:
        raise UserError(f"{gold_path}: {len(train_set)} train row(s) in the split; fine-tuning needs at least {MIN_TRAIN_ROWS} "
                        "(label more reports, or give a bigger gold file)")
    if dev_limit:
        dev = dev.subset(dev.ids[:dev_limit])
    base_path = resolve_model_path(settings)
    base = inspect_gguf(base_path, settings.workspace.cache_dir)
    try:
        check_writable(base_path)
    except GGUFWeightsError as exc:
        raise UserError(f"{base_path}: cannot fine-tune this model ({exc}); use a llama-architecture GGUF "
                        "(Llama, SmolLM, many others) with --model") from None
    n_params = _param_count(base_path)
    workspace = settings.workspace.ensure()
    _check_disk(gguf_out.parent, n_params * 2, "the fine-tuned GGUF")
    # Weights plus AdamW's two moments, fp32, and a temporary copy while a checkpoint is replaced.
    _check_disk(workspace.home / "finetune", n_params * 4 * 3 * 2, "the training checkpoint")

    torch.set_num_threads(settings.cpu_threads)
    lm = build_lm(settings)
    program = student_program(task, instructions)
    say(f"rendering {len(train_set)} train prompts")
    try:
        examples, shortened = render_examples(engine_of(lm), program, task, train_set, MAX_TRAIN_TOKENS)
    except ValueError as exc:
        raise UserError(f"{task.name}: {exc}" + ("; use --instructions brief" if instructions != "brief" else "")) from None
    config = TrainConfig(epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, checkpoint_every=checkpoint_every,
                         max_minutes=max_minutes)
    data_sha = examples_sha256(examples)
    key = run_key({"base": base.sha256, "task": task.sha256, "labels": task.label_names, "data": data_sha,
                   "epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed})
    started = time.perf_counter()
    before = after = None
    if score_dev and len(dev):
        with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
            say("scoring dev with the base model")
            before = dev_scores(program, task, dev, None, "dev before")

    say("loading the model's weights")
    weights = read_llama_gguf(base_path)
    model = torch_model(weights)
    weights.tensors = {}  # the torch model holds its own copy
    outcome = train(model, examples, config, workspace.home / "finetune" / key, key, report=say, after_step=after_step)

    hyper = {"epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed, "optimizer": "AdamW",
             "weight_decay": config.weight_decay, "max_grad_norm": config.max_grad_norm, "max_minutes": max_minutes,
             "loss": "answer tokens only", "precision": "fp32", "quant": quant, "instructions": instructions,
             "max_train_tokens": MAX_TRAIN_TOKENS}
    data = {"gold_file": Path(gold_path).name, "gold_sha256": train_set.sha256, "train_ids_sha256": ids_digest(train_set.ids),
            "dev_ids_sha256": ids_digest(dev.ids) if dev is not None else None, "train_rows": len(train_set),
            "train_tokens_sha256": data_sha, "reports_shortened": shortened, "pseudo_labels": pseudo}
    gguf_meta = {"base_model": {"file": base.path.name, "sha256": base.sha256, "architecture": base.architecture},
                 "task": {"name": task.name, "kind": task.kind, "sha256": task.sha256, "labels": task.label_names},
                 "data": data, "hyperparameters": hyper, "steps": outcome.steps, "total_steps": outcome.total_steps,
                 "stopped_early": outcome.stopped_early, "dev_before": before, "trained_on_reports": True}
    say("writing the GGUF")
    write_llama_gguf(weights, model.state_dict(), gguf_out, quant, {**gguf_meta, "dev_after": None})
    if score_dev and len(dev):
        tuned = replace(settings, model_path=gguf_out.absolute(), chat_template=settings.chat_template)
        with dspy.context(lm=build_lm(tuned), adapter=dspy.JSONAdapter()):
            say("scoring dev with the fine-tuned model")
            after = dev_scores(program, task, dev, None, "dev after")
        # Once more with the after-score in its metadata (same tensors; the file hash is the final file's).
        write_llama_gguf(weights, model.state_dict(), gguf_out, quant, {**gguf_meta, "dev_after": after})
    tuned_info = inspect_gguf(gguf_out, workspace.cache_dir)
    save_compiled(program, out)
    meta = {
        "format": META_FORMAT,
        "task": gguf_meta["task"] | {"file": task.source.name if task.source else None},
        "program": "zero-shot",
        "optimizer": "finetune",
        "parameters": hyper,
        "metric": f"{task.kind} task metric from programs.task_metric",
        "dev_before": before,
        "dev_after": after,
        "dev_note": None if after is not None else "dev not scored",
        "gold": {"file": Path(gold_path).name, "sha256": train_set.sha256, "split_seed": split.seed if split else None,
                 "split_file": split.path.name if split else None, "split_counts": split.counts() if split else None,
                 "train_ids_sha256": data["train_ids_sha256"]},
        "data": data,
        "model": {"file": tuned_info.path.name, "sha256": tuned_info.sha256, "size": tuned_info.size,
                  "architecture": tuned_info.architecture},
        "base_model": {"file": base.path.name, "sha256": base.sha256, "size": base.size, "architecture": base.architecture},
        "finetuned_model": {"file": gguf_out.name, "sha256": tuned_info.sha256, "quant": quant},
        "training": {"steps": outcome.steps, "total_steps": outcome.total_steps, "resumed_from_step": outcome.resumed_from,
                     "stopped_early": outcome.stopped_early, "seconds": round(outcome.train_seconds, 1),
                     "examples_per_s": round(outcome.examples_per_s, 4) if outcome.examples_per_s else None,
                     "threads": settings.cpu_threads, "peak_rss_mb": _peak_rss_mb(), "n_params": n_params,
                     "first_loss": outcome.losses[0] if outcome.losses else None,
                     "last_loss": outcome.losses[-1] if outcome.losses else None,
                     "checkpoint": str(outcome.checkpoint) if outcome.stopped_early else None},
        "lm_calls": None,
        "seconds": round(time.perf_counter() - started, 1),
        "demos": 0,
        "contains_source_text": False,
        "trained_on_reports": True,
        "versions": library_versions(),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    meta_path = write_meta(out, meta)
    if not outcome.stopped_early and outcome.checkpoint is not None:
        shutil.rmtree(outcome.checkpoint.parent, ignore_errors=True)
    warnings = list(split.notes) if split else []
    if outcome.stopped_early:
        warnings.append(f"stopped at --max-minutes after {outcome.steps} of {outcome.total_steps} steps; the GGUF holds "
                        "the weights so far; run the same command again to continue from the checkpoint")
    if shortened:
        warnings.append(f"{shortened} train report(s) were cut to fit {MAX_TRAIN_TOKENS} tokens")
    return FinetuneResult(out, meta_path, gguf_out, meta, warnings)

