"""What a student learns from: gold rows, pseudo-labels from `label`, reviewed corrections, weighted, with a held-out part.

Usage:
    data = assemble(task, gold=gold_set, split=split, pseudo=label_file, reports=frame, corrections=queue)
    data.train.texts, data.train.labels, data.train.weights; data.held_out (scored after training)
Rules: pseudo-labels come only from rows with status ok (see inputs/label_files.py); an id with a gold
label keeps the gold label; a reviewed correction (the `corrected` column of a review queue) replaces a
pseudo-label and counts as gold. Gold and corrected rows weigh `gold_weight`, pseudo-labels 1.
Held-out rows: with gold, the gold file's recorded test split (the rows `evaluate` scores, so a student
is never trained on them; their pseudo-labels are left out too); without gold, a seeded
`holdout` share of the pseudo-labelled rows, scored as agreement with the labeller.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from incident_lens.errors import UserError
from incident_lens.inputs.gold import GoldSet
from incident_lens.inputs.splits import Split
from incident_lens.inputs.task_files import Task

DEFAULT_GOLD_WEIGHT = 2.0
DEFAULT_HOLDOUT = 0.2


@dataclass
class Rows:
    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    labels: list = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # gold, pseudo or reviewed

    def add(self, id_: str, text: str, label, weight: float, source: str) -> None:
        self.ids.append(id_)
        self.texts.append(text)
        self.labels.append(label)
        self.weights.append(weight)
        self.sources.append(source)

    def __len__(self) -> int:
        return len(self.ids)

    def counts(self) -> dict[str, int]:
        return {s: self.sources.count(s) for s in ("gold", "pseudo", "reviewed") if s in self.sources}


@dataclass
class TrainingData:
    train: Rows
    held_out: Rows
    held_out_kind: str  # "gold test split" or "pseudo-labels"
    notes: list[str] = field(default_factory=list)


def load_report_texts(path, task: Task, settings, text_cols: list[str] | None = None, id_col: str | None = None,
                      sheet: str | None = None):
    """The reports a labels file was made from (a ReportSet), texts built as for a gold file: `text_cols`,
    else the task's input fields the file has (so the student sees the same text form as from gold)."""
    from incident_lens.inputs.gold import text_columns
    from incident_lens.inputs.report_files import Table, load_reports

    columns = Table(path, settings.encoding, sheet).columns
    return load_reports(path, text_columns(path, task, columns, text_cols), id_col, max_chars=settings.max_chars,
                        encoding=settings.encoding, cache_dir=settings.workspace.cache_dir, sheet=sheet)


def reports_lookup(frame) -> dict[str, str]:
    return dict(zip(frame["id"].tolist(), frame["text"].tolist()))


def check_ids_in_reports(ids: list[str], rows: list[int], texts: dict[str, str], where: str, reports_path) -> None:
    missing = [(i, r) for i, r in zip(ids, rows) if i not in texts]
    if missing:
        shown = ", ".join(f"'{i}' (row {r})" for i, r in missing[:3])
        raise UserError(f"{where}: {len(missing)} id(s) not in the reports file {reports_path}: {shown}; "
                        "give the reports file these labels were made from (--reports)")


def assemble(task: Task, gold: GoldSet | None = None, split: Split | None = None, pseudo=None, reports=None,
             reports_path=None, corrections: dict | None = None, gold_weight: float = DEFAULT_GOLD_WEIGHT, holdout: float = DEFAULT_HOLDOUT,
             seed: int = 0) -> TrainingData:
    """The weighted training rows and the held-out rows (see the module docstring).

    `pseudo`: a LabelFile; `reports`: the reports frame its ids are looked up in; `corrections`: id -> label
    (gold form) from a reviewed queue."""
    corrections = dict(corrections or {})
    texts = reports_lookup(reports) if reports is not None else {}
    train, held = Rows(), Rows()
    notes: list[str] = []
    test_ids: set[str] = set()
    gold_ids: set[str] = set()
    if gold is not None:
        test_ids = set(split.ids("test")) if split is not None else set()
        for id_, text, label in zip(gold.ids, gold.texts, gold.labels):
            gold_ids.add(id_)
            if id_ in test_ids:
                held.add(id_, text, label, 1.0, "gold")
            else:
                train.add(id_, text, label, gold_weight, "gold")
    if pseudo is not None:
        check_ids_in_reports(pseudo.ids, pseudo.rows, texts, str(pseudo.path), reports_path or "--reports")
        overridden = left_out = 0
        candidates = Rows()
        for id_, label in zip(pseudo.ids, pseudo.labels):
            if id_ in test_ids:
                left_out += 1
                continue
            if id_ in gold_ids:
                overridden += 1
                continue
            if id_ in corrections:
                candidates.add(id_, texts[id_], corrections.pop(id_), gold_weight, "reviewed")
            else:
                candidates.add(id_, texts[id_], label, 1.0, "pseudo")
        if overridden:
            notes.append(f"{overridden} pseudo-label(s) of gold ids left out: the gold label is used")
        if left_out:
            notes.append(f"{left_out} pseudo-label(s) of held-out gold test ids left out")
        if pseudo.dropped:
            notes.append("left out of the labels file: " + ", ".join(f"{n} with status '{s}'" for s, n in sorted(pseudo.dropped.items())))
        if gold is None:
            chosen = np.random.default_rng(seed).random(len(candidates)) < holdout
        else:
            chosen = np.zeros(len(candidates), dtype=bool)
        for i in range(len(candidates)):
            target = held if chosen[i] else train
            target.add(candidates.ids[i], candidates.texts[i], candidates.labels[i],
                       1.0 if chosen[i] else candidates.weights[i], candidates.sources[i])
    if corrections:
        # Corrections of ids with no pseudo-label: reviewed reports of the reports file, or gold rows.
        ignored = 0
        for id_, label in corrections.items():
            if id_ in test_ids:
                ignored += 1
            elif id_ in gold_ids:
                index = train.ids.index(id_)
                train.labels[index], train.sources[index] = label, "reviewed"
            elif id_ in texts:
                train.add(id_, texts[id_], label, gold_weight, "reviewed")
            else:
                raise UserError(f"corrections: id '{id_}' is in neither the gold file nor the reports file")
        if ignored:
            notes.append(f"{ignored} correction(s) of held-out gold test ids not used (they would leak into training)")
    if len(train) < 2:
        raise UserError(f"{len(train)} training row(s) after leaving out held-out and non-ok rows; give more labelled rows")
    kind = "gold test split" if gold is not None else "pseudo-labels"
    if gold is not None and split is None:
        kind = "none"
    return TrainingData(train, held, kind, notes)
