"""The `encoder` student: a local sentence-transformers model fine-tuned end to end with a classification head, on CPU.

Usage:
    student = EncoderStudent(task, model_path, epochs=2).fit(texts, labels, weights)
    student.probabilities(texts)   # {target: (classes, reports x classes)}; save(dir) / EncoderStudent.load(dir, task)
One head for every task kind: the task's targets (one for single; one yes/no per label for multi; one
status per finding for findings, see baselines.targets) each get a softmax over the classes seen in
training, on the mean-pooled token vectors; the loss is the sum of their cross-entropies, each with
balanced class weights, rows weighted by their sample weight (gold above pseudo-labels).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from incident_lens.inputs.task_files import Task
from incident_lens.pipelines.baselines import targets

HEAD_FILE = "head.pt"
ENCODER_DIR = "encoder"
CONFIG_FILE = "encoder-student.json"
HEAD_LR_FACTOR = 20


def _torch_module(encoder, width: int, outputs: int):
    import torch

    class Classifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = encoder
            self.dropout = torch.nn.Dropout(0.1)
            self.head = torch.nn.Linear(width, outputs)

        def forward(self, input_ids, attention_mask, **extra):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return self.head(self.dropout(pooled))

    return Classifier()


class EncoderStudent:
    name = "encoder"

    def __init__(self, task: Task, model_path: Path, epochs: int = 3, batch_size: int = 16, learning_rate: float = 1e-4,
                 max_length: int = 128, seed: int = 0, threads: int | None = None):
        self.task = task
        self.model_path = Path(model_path)
        self.epochs, self.batch_size, self.learning_rate = epochs, batch_size, learning_rate
        self.max_length, self.seed, self.threads = max_length, seed, threads
        self.classes: dict[str, list[str]] = {}
        self.module = None
        self.tokenizer = None
        self.history: list[dict] = []

    def config(self) -> dict:
        return {"base_model": str(self.model_path), "epochs": self.epochs, "batch_size": self.batch_size,
                "learning_rate": self.learning_rate, "max_length": self.max_length, "seed": self.seed,
                "classes": self.classes, "history": self.history}

    def _build(self, encoder_path: Path):
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()  # "Loading weights" bars would land in every command's output
        self.tokenizer = AutoTokenizer.from_pretrained(str(encoder_path))
        encoder = AutoModel.from_pretrained(str(encoder_path))
        outputs = sum(len(c) for c in self.classes.values())
        self.module = _torch_module(encoder, encoder.config.hidden_size, outputs)

    def _batch(self, texts: list[str]):
        return self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")

    def _threads(self):
        import torch

        if self.threads:
            torch.set_num_threads(self.threads)

    def fit(self, texts: list[str], labels: list, sample_weight=None, progress=None) -> "EncoderStudent":
        """Fine-tune on the rows; `progress(done_steps, total_steps)` is called after every step."""
        import torch

        self._threads()
        torch.manual_seed(self.seed)
        columns = targets(self.task, labels)
        self.classes = {name: sorted(set(column)) for name, column in columns.items()}
        self._build(self.model_path)
        codes = np.stack([[self.classes[name].index(v) for v in column] for name, column in columns.items()], axis=1)
        weights = np.ones(len(texts)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        rng = np.random.default_rng(self.seed)
        steps_per_epoch = math.ceil(len(texts) / self.batch_size)
        total = steps_per_epoch * self.epochs
        # The new head starts from nothing and the encoder from a good place: the head learns HEAD_LR_FACTOR
        # times faster (with one rate for both, 39 steps on 200 demo rows left the head near chance).
        optimiser = torch.optim.AdamW([
            {"params": self.module.encoder.parameters(), "lr": self.learning_rate},
            {"params": self.module.head.parameters(), "lr": self.learning_rate * HEAD_LR_FACTOR}], weight_decay=0.01)
        # Linear warm-up over the first 10 % of steps, then linear decay: the usual schedule for BERT-sized fine-tuning.
        warm = max(1, total // 10)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimiser, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(1, total - warm)))
        slices = self._slices()
        # Balanced class weights per target (n / (classes x count)), as the LR students' default: without
        # them 44 steps on 173 demo cxr rows never predicted a rare finding positive (macro-F1 0.000).
        balanced = [torch.tensor(len(texts) / (len(c) * np.maximum(np.bincount(codes[:, j], minlength=len(c)), 1)),
                                 dtype=torch.float32) for j, c in enumerate(self.classes.values())]
        self.module.train()
        done = 0
        for epoch in range(self.epochs):
            order = rng.permutation(len(texts))
            started, running = time.perf_counter(), 0.0
            for start in range(0, len(order), self.batch_size):
                rows = order[start:start + self.batch_size]
                logits = self.module(**self._batch([texts[i] for i in rows]))
                w = torch.tensor(weights[rows], dtype=torch.float32)
                loss = 0.0
                for j, (lo, hi) in enumerate(slices):
                    if hi - lo < 2:
                        continue  # one class: nothing to learn
                    target = torch.tensor(codes[rows, j], dtype=torch.long)
                    per_row = torch.nn.functional.cross_entropy(logits[:, lo:hi], target, weight=balanced[j], reduction="none")
                    loss = loss + (per_row * w).sum() / w.sum()
                if isinstance(loss, float):
                    break
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                scheduler.step()
                running += float(loss.detach())
                done += 1
                if progress:
                    progress(done, total)
            self.history.append({"epoch": epoch + 1, "mean_loss": round(running / max(1, steps_per_epoch), 4),
                                 "seconds": round(time.perf_counter() - started, 1)})
        self.module.eval()
        return self

    def _slices(self) -> list[tuple[int, int]]:
        out, lo = [], 0
        for name in self.classes:
            out.append((lo, lo + len(self.classes[name])))
            lo += len(self.classes[name])
        return out

    def probabilities(self, texts: list[str], batch_size: int = 64) -> dict[str, tuple[list[str], np.ndarray]]:
        import torch

        self._threads()
        slices = self._slices()
        parts = {name: [] for name in self.classes}
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                logits = self.module(**self._batch(texts[start:start + batch_size]))
                for name, (lo, hi) in zip(self.classes, slices):
                    parts[name].append(torch.softmax(logits[:, lo:hi], dim=1).numpy())
        return {name: (self.classes[name], np.concatenate(parts[name]) if parts[name] else np.zeros((0, len(self.classes[name]))))
                for name in self.classes}

    def save(self, folder: Path) -> list[str]:
        import torch

        folder = Path(folder)
        self.module.encoder.save_pretrained(folder / ENCODER_DIR)
        self.tokenizer.save_pretrained(folder / ENCODER_DIR)
        torch.save(self.module.head.state_dict(), folder / HEAD_FILE)
        (folder / CONFIG_FILE).write_text(json.dumps(self.config(), indent=1), encoding="utf-8")
        return [ENCODER_DIR, HEAD_FILE, CONFIG_FILE]

    @classmethod
    def load(cls, folder: Path, task: Task, threads: int | None = None) -> "EncoderStudent":
        import torch

        folder = Path(folder)
        config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
        student = cls(task, Path(config["base_model"]), config["epochs"], config["batch_size"], config["learning_rate"],
                      config["max_length"], config["seed"], threads)
        student.classes = {k: list(v) for k, v in config["classes"].items()}
        student.history = config.get("history", [])
        student._build(folder / ENCODER_DIR)
        student.module.head.load_state_dict(torch.load(folder / HEAD_FILE, weights_only=True))
        student.module.eval()
        return student
