"""The one reading of label values in the project: gold files, index metadata, model answers, demos.

Usage: `normalise_labels(task, "falls")` -> "Falls"; `normalise_labels(task, "Falls; Medication")`;
`normalise_labels(task, {"Effusion": "1", "Mass": ""})` -> {"Effusion": "positive", "Mass": "not_mentioned", ...}.
`task` is anything with `name`, `kind` ("single" | "multi" | "findings") and `label_names`.
Forms: single -> the label as the task spells it; multi -> sorted list; findings -> {finding: status}.
Label names are matched ignoring case and surrounding spaces; anything else raises `LabelError`.
"""

from __future__ import annotations

FINDING_STATUSES = ("positive", "negative", "uncertain", "not_mentioned")

# Finding statuses as files spell them. Numeric codes follow presence coding (OpenI-style 1 / 0):
# 0 means "not reported", not "ruled out". CheXpert's -1 / 0 / 1 coding reads 0 as negative, so a
# -1 in a file means the file uses that other coding: it is refused rather than read half one way.
STATUS_SPELLINGS = {
    **{status: status for status in FINDING_STATUSES},
    "pos": "positive", "present": "positive", "yes": "positive", "true": "positive", "1": "positive", "1.0": "positive",
    "neg": "negative", "absent": "negative",
    "possible": "uncertain",
    "not mentioned": "not_mentioned", "": "not_mentioned", "blank": "not_mentioned", "nan": "not_mentioned",
    "0": "not_mentioned", "0.0": "not_mentioned",
}
ACCEPTED_STATUS_SPELLINGS = (*FINDING_STATUSES, "1", "0", "blank")


class LabelError(ValueError):
    """A label value that is not in the task's label set (the message names the value and the choices)."""


def fold(value) -> str:
    """How label spellings are compared: case folded, runs of spaces as one, no surrounding spaces."""
    return "" if value is None else " ".join(str(value).split()).lower()


def normalise_status(value) -> str:
    key = fold(value)
    if key not in STATUS_SPELLINGS:
        hint = " (-1 is CheXpert coding, where 0 means negative: write the statuses out)" if key in ("-1", "-1.0") else ""
        raise LabelError(f"'{value}' is not a finding status; use one of {', '.join(ACCEPTED_STATUS_SPELLINGS)}{hint}")
    return STATUS_SPELLINGS[key]


def canonical_names(names) -> dict[str, str]:
    """Folded spelling -> the task's spelling (case and surrounding spaces are forgiven)."""
    return {fold(name): name for name in names}


def normalise_label(task, value) -> str:
    found = canonical_names(task.label_names).get(fold(value))
    if found is None:
        raise LabelError(f"'{str(value).strip()}' is not a label of task '{task.name}' ({', '.join(task.label_names)})")
    return found


def normalise_labels(task, labels):
    """Gold, metadata or predicted labels in the one form per task kind (see the module docstring)."""
    if task.kind == "single":
        return normalise_label(task, labels)
    if task.kind == "multi":
        items = labels.split(";") if isinstance(labels, str) else list(labels or [])
        chosen = {normalise_label(task, item) for item in items if str(item).strip()}
        order = {name: i for i, name in enumerate(task.label_names)}
        return sorted(chosen, key=order.get)
    if hasattr(labels, "model_dump"):
        labels = labels.model_dump(by_alias=True)
    labels = dict(labels or {})
    lookup = canonical_names(task.label_names)
    unknown = [key for key in labels if fold(key) not in lookup]
    if unknown:
        raise LabelError(f"'{unknown[0]}' is not a finding of task '{task.name}' ({', '.join(task.label_names)})")
    given = {lookup[fold(key)]: value for key, value in labels.items()}
    return {name: normalise_status(given.get(name, "")) for name in task.label_names}
