"""The fine-tuning loop: AdamW in fp32 on CPU, loss on answer tokens only, checkpoints that a killed run resumes.

Usage:
    outcome = train(model, examples, TrainConfig(epochs=2, lr=5e-5, seed=13), checkpoint_dir, report=print_step)
The order of examples is a function of (seed, epoch) and there is no dropout, so a run resumed from a
checkpoint takes the same steps as one never stopped. A checkpoint (weights, optimiser state, step, loss
history) is written atomically every `checkpoint_every` steps and when `max_minutes` stops the run.
Only the answer positions go through the output layer (its 49k-row matmul would otherwise be a fifth
of the work on every prompt token).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from incident_lens.pipelines.training_data import TrainingExample

CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 2
    lr: float = 5e-5
    batch_size: int = 8
    seed: int = 13
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0  # clipping keeps one long, badly-predicted batch from wrecking a small model
    checkpoint_every: int = 10  # optimiser steps
    max_minutes: float | None = None


@dataclass
class StepReport:
    step: int
    total_steps: int
    loss: float
    examples_per_s: float
    eta_s: float | None


@dataclass
class TrainOutcome:
    steps: int
    total_steps: int
    resumed_from: int  # 0: a fresh run
    stopped_early: bool  # max_minutes reached before the last step
    losses: list[float] = field(default_factory=list)  # mean answer-token loss per step, from step 1
    train_seconds: float = 0.0  # this process's training time (not counting resumed-from runs)
    examples_trained: int = 0  # in this process
    checkpoint: Path | None = None

    @property
    def examples_per_s(self) -> float | None:
        return self.examples_trained / self.train_seconds if self.train_seconds else None


def batches_per_epoch(n: int, batch_size: int) -> int:
    return math.ceil(n / batch_size)


def batch_at(step: int, n: int, config: TrainConfig) -> list[int]:
    """Indices of the examples of optimiser step `step` (0-based): a seeded shuffle per epoch."""
    per_epoch = batches_per_epoch(n, config.batch_size)
    epoch, index = divmod(step, per_epoch)
    order = np.random.default_rng([config.seed, epoch]).permutation(n)
    return order[index * config.batch_size:(index + 1) * config.batch_size].tolist()


def _save(path: Path, payload: dict) -> None:
    import torch

    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def answer_loss(model, example: TrainingExample):
    """Summed cross-entropy of the answer tokens given everything before them (teacher forcing)."""
    import torch
    import torch.nn.functional as F

    ids = torch.tensor([example.tokens], dtype=torch.long)
    hidden = model.model(input_ids=ids).last_hidden_state[0]
    # Position p predicts token p + 1: the answer's tokens are predicted from positions n_prompt - 1 ... end - 1.
    logits = model.lm_head(hidden[example.n_prompt - 1:-1])
    return F.cross_entropy(logits.float(), ids[0, example.n_prompt:], reduction="sum")


def train(model, examples: list[TrainingExample], config: TrainConfig, checkpoint_dir: Path, key: str,
          report: Callable[[StepReport], None] | None = None,
          after_step: Callable[[int], None] | None = None) -> TrainOutcome:
    """Train `model` in place; resume from `checkpoint_dir` when it holds a checkpoint for the same `key`.

    `after_step(step)` runs after each step and its checkpoint (tests use it to stop a run as a kill would)."""
    import torch

    torch.manual_seed(config.seed)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    total = batches_per_epoch(len(examples), config.batch_size) * config.epochs
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    path = checkpoint_dir / CHECKPOINT
    step, losses = 0, []
    if path.is_file():
        saved = torch.load(path, map_location="cpu", weights_only=False)
        if saved.get("key") == key:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            step, losses = int(saved["step"]), list(saved["losses"])
    outcome = TrainOutcome(step, total, step, False, losses, checkpoint=path)

    def checkpoint() -> None:
        _save(path, {"key": key, "step": outcome.steps, "losses": outcome.losses, "config": asdict(config),
                     "model": model.state_dict(), "optimizer": optimizer.state_dict()})

    started = time.perf_counter()
    while outcome.steps < total:
        batch = [examples[i] for i in batch_at(outcome.steps, len(examples), config)]
        n_answer = sum(e.n_answer for e in batch)
        optimizer.zero_grad(set_to_none=True)
        summed = 0.0
        for example in batch:
            loss = answer_loss(model, example) / n_answer
            loss.backward()
            summed += float(loss.detach())
        if config.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        optimizer.step()
        outcome.steps += 1
        outcome.losses.append(summed)
        outcome.examples_trained += len(batch)
        outcome.train_seconds = time.perf_counter() - started
        out_of_time = config.max_minutes is not None and outcome.train_seconds >= config.max_minutes * 60
        if outcome.steps % config.checkpoint_every == 0 or (out_of_time and outcome.steps < total):
            checkpoint()
        if report is not None:
            rate = outcome.examples_trained / outcome.train_seconds
            left = (total - outcome.steps) * config.batch_size / rate if rate else None
            report(StepReport(outcome.steps, total, summed, rate, left))
        if after_step is not None:
            after_step(outcome.steps)
        if out_of_time and outcome.steps < total:
            outcome.stopped_early = True
            break
    optimizer.zero_grad(set_to_none=True)  # the gradients' memory back before the model is written and scored
    model.eval()
    return outcome
