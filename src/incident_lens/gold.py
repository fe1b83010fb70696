"""Gold sets: reading a labelled file for a task, validating its labels, and recorded splits.

Usage:
    gold = load_gold(Path("data/gold/harm.csv"), task)        # GoldSet: ids, texts, labels
    split = load_or_create_split(gold, split_path, seed=13)    # train / dev / test ids, reused
    train, test = gold.subset(split.ids("train")), gold.subset(split.ids("test"))

Label values per task kind: `single` a label name; `multi` a tuple of label names (task order);
`findings` a dict finding -> status (one of FINDING_STATUSES, "not_mentioned" for blank or 0).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from incident_lens.errors import UserError
from incident_lens.reports import ReportSet, Table, load_reports
from incident_lens.task_files import FINDING_STATUSES, Task

SPLITS = ("train", "dev", "test")
DEFAULT_FRACTIONS = {"train": 0.6, "dev": 0.2, "test": 0.2}
SPLIT_FORMAT = 1
# Spellings accepted in a findings column, mapped to the task's statuses. 1/0 files (such as OpenI's)
# code presence only, so 0 means the finding is not reported, not that it was ruled out.
FINDING_SPELLINGS = {
    **{s: s for s in FINDING_STATUSES},
    "not mentioned": "not_mentioned", "": "not_mentioned", "blank": "not_mentioned",
    "1": "positive", "1.0": "positive", "0": "not_mentioned", "0.0": "not_mentioned",
}
TRUE_SPELLINGS = {"1", "1.0", "true", "yes", "y"}
FALSE_SPELLINGS = {"0", "0.0", "false", "no", "n", ""}


@dataclass
class GoldSet:
    task: Task
    reports: ReportSet
    labels: list
    label_columns: list[str]
    warnings: list[str] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.reports.source

    @property
    def sha256(self) -> str:
        return self.reports.sha256

    @property
    def ids(self) -> list[str]:
        return self.reports.frame["id"].tolist()

    @property
    def texts(self) -> list[str]:
        return self.reports.frame["text"].tolist()

    @property
    def rows(self) -> list[int]:
        return self.reports.frame["row"].tolist()

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, ids) -> "GoldSet":
        """The rows whose id is in `ids`, in file order."""
        wanted = set(ids)
        keep = [i for i, id_ in enumerate(self.ids) if id_ in wanted]
        frame = self.reports.frame.iloc[keep].reset_index(drop=True)
        return replace(self, reports=replace(self.reports, frame=frame), labels=[self.labels[i] for i in keep])


def format_labels(task: Task, value) -> str:
    """One cell of text for a label value: `a; b` for multi, `Finding=status; ...` for findings."""
    if task.kind == "single":
        return "" if value is None else str(value)
    if task.kind == "multi":
        return "; ".join(value)
    return "; ".join(f"{name}={status}" for name, status in value.items() if status != "not_mentioned")


def _rows_text(rows: list[int], limit: int = 8) -> str:
    shown = ", ".join(str(r) for r in rows[:limit])
    return f"row{'s' if len(rows) > 1 else ''} {shown}{'...' if len(rows) > limit else ''}"


def _unknown_error(path: Path, column: str, task: Task, bad: dict[str, list[int]], allowed: list[str]) -> UserError:
    listed = "; ".join(f"'{value}' ({_rows_text(rows, 5)})" for value, rows in list(bad.items())[:6])
    more = f" and {len(bad) - 6} more" if len(bad) > 6 else ""
    return UserError(f"{path}: column '{column}' has value(s) not in task '{task.name}': {listed}{more}; "
                     f"allowed: {', '.join(allowed)}; fix the file or the task's labels")


def _canonical(names: list[str]) -> dict[str, str]:
    # Case and surrounding spaces are forgiven; anything else is an error the user must see.
    return {name.strip().lower(): name for name in names}


def _single_labels(path: Path, task: Task, values: list[str], rows: list[int], column: str) -> list[str]:
    lookup = _canonical(task.label_names)
    labels, bad, blank = [], {}, []
    for value, row in zip(values, rows):
        name = lookup.get(value.strip().lower())
        if not value.strip():
            blank.append(row)
        elif name is None:
            bad.setdefault(value.strip(), []).append(row)
        labels.append(name)
    if bad:
        raise _unknown_error(path, column, task, bad, task.label_names)
    if blank:
        raise UserError(f"{path}: column '{column}' is empty in {_rows_text(blank)}; give every gold row a label or remove it")
    return labels


def _multi_from_column(path: Path, task: Task, values: list[str], rows: list[int], column: str) -> list[tuple]:
    lookup = _canonical(task.label_names)
    order = {name: i for i, name in enumerate(task.label_names)}
    labels, bad = [], {}
    for value, row in zip(values, rows):
        names = set()
        for part in (p.strip() for p in value.split(";")):
            if not part:
                continue
            if part.lower() not in lookup:
                bad.setdefault(part, []).append(row)
            else:
                names.add(lookup[part.lower()])
        labels.append(tuple(sorted(names, key=order.get)))
    if bad:
        raise _unknown_error(path, column, task, bad, task.label_names)
    return labels


def _multi_from_indicators(path: Path, task: Task, frame, rows: list[int]) -> list[tuple]:
    present = {name: [] for name in task.label_names}
    for name in task.label_names:
        bad = {}
        for value, row in zip(frame[name], rows):
            flag = value.strip().lower()
            if flag in TRUE_SPELLINGS:
                present[name].append(True)
            elif flag in FALSE_SPELLINGS:
                present[name].append(False)
            else:
                bad.setdefault(value.strip(), []).append(row)
        if bad:
            raise _unknown_error(path, name, task, bad, ["1", "0", "blank"])
    return [tuple(name for name in task.label_names if present[name][i]) for i in range(len(rows))]


def _findings(path: Path, task: Task, frame, rows: list[int]) -> list[dict]:
    columns = {}
    for name in task.label_names:
        statuses, bad = [], {}
        for value, row in zip(frame[name], rows):
            status = FINDING_SPELLINGS.get(value.strip().lower())
            if status is None:
                bad.setdefault(value.strip(), []).append(row)
            statuses.append(status)
        if bad:
            raise _unknown_error(path, name, task, bad, list(FINDING_STATUSES) + ["1", "0", "blank"])
        columns[name] = statuses
    return [{name: columns[name][i] for name in task.label_names} for i in range(len(rows))]


def _text_columns(path: Path, task: Task, columns: list[str], text_cols: list[str] | None) -> list[str]:
    if text_cols:
        return text_cols
    present = [c for c in task.input_fields if c in columns]
    if not present:
        raise UserError(f"{path}: none of the task's input fields ({', '.join(task.input_fields)}) is a column; "
                        f"columns are: {', '.join(columns)}; choose the text with --text-col")
    return present


def single_label_column(task: Task, columns: list[str], path: Path) -> str:
    for name in (task.label_column, "label"):
        if name and name in columns:
            return name
    wanted = " or ".join(f"'{c}'" for c in (task.label_column, "label") if c)
    raise UserError(f"{path}: no label column {wanted} for task '{task.name}'; columns are: {', '.join(columns)}")


def load_gold(path: Path, task: Task, text_cols: list[str] | None = None, id_col: str | None = None,
              max_chars: int = 20_000, cache_dir: Path | None = None) -> GoldSet:
    """Read a gold file for `task` and validate every label against the task's label set."""
    path = Path(path)
    columns = Table(path).columns  # names only; load_reports reads the rows
    explicit_text = bool(text_cols)
    text_cols = _text_columns(path, task, columns, text_cols)
    reports = load_reports(path, text_cols=text_cols, id_col=id_col, max_chars=max_chars, cache_dir=cache_dir)
    frame = reports.frame
    rows = frame["row"].tolist()
    warnings = list(reports.warnings)
    missing_fields = [c for c in task.input_fields if c not in text_cols]
    if missing_fields and not explicit_text:
        warnings.append(f"{path}: task input field(s) {', '.join(missing_fields)} not in the file")

    if task.kind == "single":
        column = single_label_column(task, columns, path)
        labels = _single_labels(path, task, frame[column].tolist(), rows, column)
        label_columns = [column]
    elif task.kind == "multi":
        candidates = [c for c in (task.label_column, "label", "labels") if c and c in columns]
        if candidates:
            labels = _multi_from_column(path, task, frame[candidates[0]].tolist(), rows, candidates[0])
            label_columns = candidates[:1]
        elif all(name in columns for name in task.label_names):
            labels = _multi_from_indicators(path, task, frame, rows)
            label_columns = list(task.label_names)
        else:
            missing = [n for n in task.label_names if n not in columns]
            raise UserError(f"{path}: task '{task.name}' needs a ';'-separated 'label' column or one 0/1 column per label "
                            f"(missing: {', '.join(missing[:6])}{'...' if len(missing) > 6 else ''})")
    else:
        missing = [n for n in task.label_names if n not in columns]
        if missing:
            raise UserError(f"{path}: task '{task.name}' needs one column per finding; missing: {', '.join(missing)}")
        labels = _findings(path, task, frame, rows)
        label_columns = list(task.label_names)
    return GoldSet(task=task, reports=reports, labels=labels, label_columns=label_columns, warnings=warnings)


# ----------------------------------------------------------------------------------------------
# Splits
# ----------------------------------------------------------------------------------------------


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
