"""Labels files written by `incident-lens label` (pseudo-labels), and label cells as people write them.

Usage:
    pseudo = load_label_file(Path("harm-labels.csv"), task)   # LabelFile: ids, labels (gold form), dropped
    parse_label_cell(task, "Falls")  /  parse_label_cell(task, "Effusion=positive; Mass=uncertain")
A labels file has an `id` column, the task's answer column(s) (`label` for single, `labels` for multi,
one column per finding for findings) and `status`; rows whose status is not `ok` are left out and
counted. A label outside the task is a one-line error naming the file, row and value.
Label cells in the review queue use `format_labels`'s form (`a; b`, `Finding=status; ...`); `(none)`
is an explicitly empty multi-label set or a report with no finding mentioned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from incident_lens.errors import UserError
from incident_lens.inputs.report_files import Table
from incident_lens.inputs.task_files import Task
from programs.labels import FINDING_STATUSES, LabelError, normalise_labels, normalise_status

NONE_CELL = "(none)"


def answer_columns(task: Task) -> list[str]:
    """The columns `label` writes a task's answer in (see pipelines/labelling.label_columns)."""
    if task.kind == "single":
        return ["label"]
    if task.kind == "multi":
        return ["labels"]
    return list(task.label_names)


def gold_form(task: Task, value):
    """A normalised label (programs.labels form) in the gold form: task-ordered tuple for multi."""
    return tuple(value) if task.kind == "multi" else value


@dataclass
class LabelFile:
    path: Path
    sha256: str
    ids: list[str]
    labels: list
    rows: list[int]
    dropped: dict[str, int] = field(default_factory=dict)  # status -> rows left out

    def __len__(self) -> int:
        return len(self.ids)


def load_label_file(path: Path, task: Task, encoding: str = "utf-8", cache_dir: Path | None = None) -> LabelFile:
    """Read a labels file for `task`: only rows with status `ok`, every label checked against the task."""
    from incident_lens.hashing import file_sha256

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: labels file not found")
    table = Table(path, encoding)
    columns = table.columns
    needed = ["id", *answer_columns(task), "status"]
    missing = [c for c in needed if c not in columns]
    if missing:
        raise UserError(f"{path}: not a labels file for task '{task.name}' (no column '{missing[0]}'); "
                        f"give the file `incident-lens label --task {task.name}` wrote")
    ids, labels, rows, dropped, seen = [], [], [], {}, {}
    row = 0
    for chunk in table.chunks(needed):
        for values in chunk[needed].to_dict("records"):
            row += 1
            report_id, status = values["id"].strip(), values["status"].strip() or "(blank)"
            if not report_id:
                raise UserError(f"{path}: row {row}: column 'id' is empty; every label row needs an id")
            if report_id in seen:
                raise UserError(f"{path}: id '{report_id}' is in rows {seen[report_id]} and {row}; ids must be unique")
            seen[report_id] = row
            if status != "ok":
                key = status.split(":")[0].strip()
                dropped[key] = dropped.get(key, 0) + 1
                continue
            raw = values["label"] if task.kind == "single" else values["labels"] if task.kind == "multi" else \
                {name: values[name] for name in task.label_names}
            try:
                if task.kind == "single" and not str(raw).strip():
                    raise LabelError("the label is empty")
                label = gold_form(task, normalise_labels(task, raw))
            except LabelError as exc:
                raise UserError(f"{path}: row {row} (id '{report_id}'): {exc}; fix the row or set its status to "
                                "something other than ok") from None
            ids.append(report_id)
            labels.append(label)
            rows.append(row)
    return LabelFile(path, file_sha256(path, cache_dir), ids, labels, rows, dropped)


def parse_label_cell(task: Task, text: str):
    """A label cell in `format_labels`'s form, in the gold form; `LabelError` when it is not the task's."""
    text = str(text).strip()
    if task.kind == "single":
        return normalise_labels(task, text)
    if text == NONE_CELL:
        text = ""
    if task.kind == "multi":
        return tuple(normalise_labels(task, text))
    given = {}
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        if "=" not in part:
            raise LabelError(f"'{part}' is not Finding=status (statuses: {', '.join(FINDING_STATUSES)})")
        name, status = (s.strip() for s in part.split("=", 1))
        given[name] = normalise_status(status)
    return normalise_labels(task, given)
