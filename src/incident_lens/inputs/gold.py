"""Gold sets: reading a labelled file for a task, validating its labels, and its train / dev / test parts.

Usage:
    gold = load_gold(Path("data/gold/harm.csv"), task)        # GoldSet: ids, texts, labels
    train, dev, test, split = load_sets(task, gold_path, settings)   # the recorded split (splits.py)

Label values per task kind: `single` a label name; `multi` a tuple of label names (task order);
`findings` a dict finding -> status (one of FINDING_STATUSES, "not_mentioned" for blank or 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from incident_lens.errors import UserError
from incident_lens.inputs.report_files import ReportSet, Table, load_reports
from incident_lens.inputs.splits import default_split_path, load_or_create_split
from incident_lens.inputs.task_files import Task
from programs.labels import ACCEPTED_STATUS_SPELLINGS, LabelError, canonical_names, fold, normalise_status

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


def _single_labels(path: Path, task: Task, values: list[str], rows: list[int], column: str) -> list[str]:
    lookup = canonical_names(task.label_names)
    labels, bad, blank = [], {}, []
    for value, row in zip(values, rows):
        name = lookup.get(fold(value))
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
    lookup = canonical_names(task.label_names)
    order = {name: i for i, name in enumerate(task.label_names)}
    labels, bad = [], {}
    for value, row in zip(values, rows):
        names = set()
        for part in (p.strip() for p in value.split(";")):
            if not part:
                continue
            if fold(part) not in lookup:
                bad.setdefault(part, []).append(row)
            else:
                names.add(lookup[fold(part)])
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
            try:
                statuses.append(normalise_status(value))
            except LabelError:
                bad.setdefault(value.strip(), []).append(row)
                statuses.append(None)
        if bad:
            raise _unknown_error(path, name, task, bad, list(ACCEPTED_STATUS_SPELLINGS))
        columns[name] = statuses
    return [{name: columns[name][i] for name in task.label_names} for i in range(len(rows))]


def text_columns(path: Path, task: Task, columns: list[str], text_cols: list[str] | None) -> list[str]:
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
              max_chars: int = 20_000, cache_dir: Path | None = None, encoding: str = "utf-8",
              sheet: str | None = None) -> GoldSet:
    """Read a gold file for `task` and validate every label against the task's label set."""
    path = Path(path)
    columns = Table(path, encoding, sheet).columns  # names only; load_reports reads the rows
    explicit_text = bool(text_cols)
    text_cols = text_columns(path, task, columns, text_cols)
    reports = load_reports(path, text_cols=text_cols, id_col=id_col, max_chars=max_chars, cache_dir=cache_dir,
                           encoding=encoding, sheet=sheet)
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


def load_sets(task: Task, gold_path: Path, settings, train_path: Path | None = None, split_path: Path | None = None,
              split_seed: int | None = None, text_cols: list[str] | None = None, id_col: str | None = None,
              sheet: str | None = None):
    """(train, dev, test, split): from a separate train file, or from the gold file's recorded split.
    Files are read with `settings.encoding`; `sheet` is the sheet of .xlsx files."""
    cache = settings.workspace.cache_dir
    read = {"max_chars": settings.max_chars, "cache_dir": cache, "encoding": settings.encoding, "sheet": sheet}
    gold = load_gold(gold_path, task, text_cols=text_cols, id_col=id_col, **read)
    if train_path is not None:
        train = load_gold(train_path, task, text_cols=text_cols, id_col=id_col, **read)
        return train, None, gold, None
    path = split_path or default_split_path(settings.workspace, task, gold_path)
    split = load_or_create_split(gold, path, seed=settings.seed if split_seed is None else split_seed)
    return gold.subset(split.ids("train")), gold.subset(split.ids("dev")), gold.subset(split.ids("test")), split
