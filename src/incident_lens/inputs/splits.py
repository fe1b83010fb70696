"""Train / dev / test splits of a gold file: seeded, stratified, recorded in the workspace and kept stable.

Usage: `split = load_or_create_split(gold, default_split_path(workspace, task, gold.path), seed=13)`;
`split.ids("test")`. Rows keep the part they were first given, so editing the gold file never moves a
test row into train.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from incident_lens.errors import UserError
from incident_lens.inputs.task_files import Task

if TYPE_CHECKING:
    from incident_lens.inputs.gold import GoldSet

SPLITS = ("train", "dev", "test")
DEFAULT_FRACTIONS = {"train": 0.6, "dev": 0.2, "test": 0.2}
SPLIT_FORMAT = 1




def strata(task: Task, labels: list) -> list[str]:
    """The key each row is stratified on: its label, or for multi / findings its rarest positive label."""
    if task.kind == "single":
        return list(labels)
    positives = [list(v) if task.kind == "multi" else [k for k, s in v.items() if s == "positive"] for v in labels]
    counts = Counter(name for names in positives for name in names)
    return [min(names, key=lambda n: (counts[n], n)) if names else "(none)" for names in positives]


def assign_split(ids: list[str], keys: list[str], seed: int, fractions: dict[str, float]) -> dict[str, str]:
    """Seeded stratified assignment of ids to train / dev / test.

    Within each stratum the rows are shuffled and laid on [0, 1) at even spacing from a random offset,
    then cut at the split fractions: every split gets its share of each stratum to within one row, and
    a stratum of one row still lands in test or dev with the right probability (scikit-learn's
    stratified splitters refuse strata smaller than two).
    """
    rng = np.random.default_rng(seed)
    test_cut = fractions["test"]
    dev_cut = fractions["test"] + fractions["dev"]
    out: dict[str, str] = {}
    groups: dict[str, list[str]] = {}
    for id_, key in zip(ids, keys):
        groups.setdefault(key, []).append(id_)
    for key in sorted(groups):
        members = groups[key]
        order = rng.permutation(len(members))
        offset = rng.random()
        for position, index in enumerate(order):
            u = (position + offset) / len(members)
            out[members[index]] = "test" if u < test_cut else "dev" if u < dev_cut else "train"
    return out


@dataclass
class Split:
    path: Path
    seed: int
    fractions: dict[str, float]
    assignments: dict[str, str]
    gold_sha256: str
    task: str
    created_at: str
    notes: list[str] = field(default_factory=list)

    def ids(self, part: str) -> list[str]:
        return [i for i, p in self.assignments.items() if p == part]

    def counts(self) -> dict[str, int]:
        counts = Counter(self.assignments.values())
        return {part: counts.get(part, 0) for part in SPLITS}

    def to_dict(self) -> dict:
        return {"format": SPLIT_FORMAT, "task": self.task, "seed": self.seed, "fractions": self.fractions,
                "gold_sha256": self.gold_sha256, "created_at": self.created_at, "notes": self.notes,
                "counts": self.counts(), "assignments": self.assignments}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")
        tmp.replace(self.path)


def default_split_path(workspace, task: Task, gold_path: Path) -> Path:
    """Where the split of one gold file for one task is recorded: `<workspace>/splits/`."""
    return Path(workspace.home) / "splits" / f"{task.name}--{Path(gold_path).stem}.split.json"


def read_split(path: Path) -> Split:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return Split(path=Path(path), seed=int(data["seed"]), fractions=dict(data["fractions"]),
                     assignments={str(k): str(v) for k, v in data["assignments"].items()},
                     gold_sha256=data["gold_sha256"], task=data["task"], created_at=data["created_at"],
                     notes=list(data.get("notes", [])))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{path}: not a readable split record ({type(exc).__name__}); delete it to make a new split") from None


def load_or_create_split(gold: GoldSet, path: Path, seed: int, fractions: dict[str, float] | None = None) -> Split:
    """The recorded split for this gold file, made (and written) the first time.

    Rows keep the part they were first given, so editing the gold file never moves a test row into
    train. Rows added since are split with the recorded seed and the record is updated; a different
    `seed` than the recorded one is ignored with a note (delete the file to re-split).
    """
    path = Path(path)
    fractions = dict(fractions or DEFAULT_FRACTIONS)
    if len(gold) < 5:
        raise UserError(f"{gold.path}: {len(gold)} labelled row(s) are too few to split; add rows or give a separate --train file")
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    if not path.is_file():
        split = Split(path, seed, fractions, assign_split(gold.ids, strata(gold.task, gold.labels), seed, fractions),
                      gold.sha256, gold.task.name, now)
        split.save()
        return split
    split = read_split(path)
    if split.task != gold.task.name:
        raise UserError(f"{path}: split was recorded for task '{split.task}', not '{gold.task.name}'; give another --split path")
    if split.seed != seed:
        split.notes = split.notes + [f"seed {seed} requested; the recorded seed {split.seed} is kept"]
    new = [i for i, id_ in enumerate(gold.ids) if id_ not in split.assignments]
    if new:
        keys = strata(gold.task, [gold.labels[i] for i in new])
        added = assign_split([gold.ids[i] for i in new], keys, split.seed + len(split.assignments), split.fractions)
        split.assignments.update(added)
        split.notes = split.notes + [f"{now}: {len(added)} new row(s) split; earlier rows kept their parts"]
    if new or split.gold_sha256 != gold.sha256:
        split.gold_sha256 = gold.sha256
        split.save()
    # Rows since removed from the gold file are not the split's business any more.
    present = set(gold.ids)
    split.assignments = {i: p for i, p in split.assignments.items() if i in present}
    return split
