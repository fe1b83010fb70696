"""The `review-queue` job: rank suspect labels for people to check, most useful first, into a CSV they can work through.

Usage:
    result = review_queue(settings, task, Path("queue.csv"), gold_path=Path("gold.csv"),
                          labels_path=Path("labels.csv"), reports_path=Path("reports.csv"), student_dir=None)
What is checked: every labelled report, its current label being the gold label where there is one, else
the LLM's pseudo-label (rows with status ok). Out-of-fold class probabilities come from a
logistic-regression student (`tfidf-lr` or `embed-lr`) trained K times on the other folds; cleanlab
(`find_label_issues`, per target: the label, each label's yes/no, each finding's status) flags labels the
probabilities make unlikely, and `get_label_quality_scores` gives each its self-confidence. A report is
also flagged where gold and LLM disagree, or where a trained student (`student_dir`) disagrees with it.
Rank: score = (1 - label quality) + 1 if cleanlab flags it + 0.5 per disagreement, highest first.
The queue's columns (the contract the web app's review page reads; README "Review queue"):
QUEUE_COLUMNS. A reviewer fills `corrected` (blank: no decision) and the file goes back to
`distil --corrections`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from incident_lens.errors import UserError
from incident_lens.inputs.task_files import Task

QUEUE_COLUMNS = ["rank", "id", "current", "suggested", "confidence", "reason", "score", "label_quality",
                 "current_source", "gold", "llm", "student", "corrected", "text"]
OOF_STUDENTS = ("tfidf-lr", "embed-lr")
DEFAULT_FOLDS = 5


@dataclass
class QueueResult:
    out: Path
    checked: int
    queued: int
    flagged_by: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"note: {n}" for n in self.notes]
        if self.queued == 0:
            lines.append(f"no suspect labels among {self.checked} labelled report(s): the queue is empty "
                         f"(header only, in {self.out})")
        else:
            why = ", ".join(f"{k} {v}" for k, v in self.flagged_by.items() if v)
            lines.append(f"{self.queued} of {self.checked} labelled report(s) queued for review ({why}); queue in {self.out}")
        return "\n".join(lines)


def cell(task: Task, value) -> str:
    """A label value as a queue cell (inputs/label_files.parse_label_cell reads it back)."""
    from incident_lens.inputs.gold import format_labels
    from incident_lens.inputs.label_files import NONE_CELL

    if value is None:
        return ""
    text = format_labels(task, value)
    return text if text or task.kind == "single" else NONE_CELL


def out_of_fold(task: Task, texts: list[str], labels: list, kind: str, settings, folds: int):
    """Per target (classes over all rows, reports x classes probabilities), each row predicted by a model
    that did not see it."""
    from sklearn.model_selection import KFold, StratifiedKFold

    from incident_lens.inputs.splits import strata
    from incident_lens.pipelines.baselines import targets
    from incident_lens.students import make_student

    columns = targets(task, labels)
    classes = {name: sorted(set(column)) for name, column in columns.items()}
    probs = {name: np.zeros((len(texts), len(c))) for name, c in classes.items()}
    keys = strata(task, labels)
    smallest = min(keys.count(k) for k in set(keys))
    folds = max(2, min(folds, len(texts)))
    splitter = (StratifiedKFold(folds, shuffle=True, random_state=settings.seed) if smallest >= folds
                else KFold(folds, shuffle=True, random_state=settings.seed))
    embedder = None
    for train_rows, held_rows in splitter.split(np.zeros(len(texts)), keys):
        student = make_student(kind, task, settings, embedder=embedder)
        embedder = student.embedder  # one embedding model (and its memo of vectors) for every fold
        student.fit([texts[i] for i in train_rows], [labels[i] for i in train_rows])
        for name, (seen, p) in student.probabilities([texts[i] for i in held_rows]).items():
            for j, c in enumerate(seen):
                probs[name][held_rows, classes[name].index(c)] = p[:, j]
    return {name: (classes[name], probs[name]) for name in classes}, columns


def review_queue(settings, task: Task, out: Path, gold_path: Path | None = None, labels_path: Path | None = None,
                 reports_path: Path | None = None, student_dir: Path | None = None, oof_student: str = "tfidf-lr",
                 folds: int = DEFAULT_FOLDS, text_cols: list[str] | None = None, id_col: str | None = None,
                 sheet: str | None = None, limit: int | None = None) -> QueueResult:
    """Write the queue (see the module docstring); `limit`: only the top `limit` rows."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    from incident_lens.inputs.gold import load_gold
    from incident_lens.inputs.label_files import load_label_file
    from incident_lens.pipelines.distil import check_label_sources
    from incident_lens.students.training_data import check_ids_in_reports, load_report_texts, reports_lookup

    out = Path(out)
    if out.suffix.lower() != ".csv":
        raise UserError(f"--out {out}: use a .csv file name")
    if out.exists():
        raise UserError(f"--out {out} already exists (it may hold reviewers' corrections); choose another --out")
    if oof_student not in OOF_STUDENTS:
        raise UserError(f"--oof-student {oof_student}: use one of {', '.join(OOF_STUDENTS)}")
    check_label_sources(gold_path, labels_path, reports_path)
    workspace = settings.workspace.ensure()
    read = {"encoding": settings.encoding, "cache_dir": workspace.cache_dir}
    texts: dict[str, str] = {}
    gold_labels: dict = {}
    llm_labels: dict = {}
    if gold_path is not None:
        gold = load_gold(gold_path, task, text_cols=text_cols, id_col=id_col, max_chars=settings.max_chars, sheet=sheet, **read)
        texts.update(zip(gold.ids, gold.texts))
        gold_labels = dict(zip(gold.ids, gold.labels))
    notes = []
    if labels_path is not None:
        pseudo = load_label_file(labels_path, task, **read)
        reports = load_report_texts(reports_path, task, settings, text_cols, id_col, sheet)
        lookup = reports_lookup(reports.frame)
        check_ids_in_reports(pseudo.ids, pseudo.rows, lookup, str(labels_path), str(reports_path))
        for id_ in pseudo.ids:
            texts.setdefault(id_, lookup[id_])
        llm_labels = dict(zip(pseudo.ids, pseudo.labels))
        if pseudo.dropped:
            notes.append("not checked (status not ok): " + ", ".join(f"{n} '{s}'" for s, n in sorted(pseudo.dropped.items())))
    ids = list(texts)
    current = [gold_labels[i] if i in gold_labels else llm_labels[i] for i in ids]
    if len(ids) < 4:
        raise UserError(f"{len(ids)} labelled report(s): too few to cross-validate; give at least 4")
    row_texts = [texts[i] for i in ids]
    oof, columns = out_of_fold(task, row_texts, current, oof_student, settings, folds)
    n = len(ids)
    quality = np.ones(n)
    flagged = np.zeros(n, dtype=bool)
    reasons: list[list[str]] = [[] for _ in range(n)]
    for name, (classes, probs) in oof.items():
        if len(classes) < 2:
            continue
        codes = np.array([classes.index(v) for v in columns[name]])
        scores = get_label_quality_scores(codes, probs, method="self_confidence")
        issues = find_label_issues(codes, probs, filter_by="prune_by_noise_rate")
        quality = np.minimum(quality, scores)
        flagged |= issues
        where = "" if task.kind == "single" else f" on {name}"
        for i in np.flatnonzero(issues):
            reasons[i].append(f"cleanlab: label issue{where} (out-of-fold p(current {columns[name][i]}) = {scores[i]:.2f})")
    from incident_lens.pipelines.baselines import predict_from_probabilities

    suggested, confidence = predict_from_probabilities(task, oof, n)
    disagreements = np.zeros(n)
    student_labels: dict = {}
    if student_dir is not None:
        from incident_lens.students import load_student
        from incident_lens.students.store import student_predict

        student, _meta = load_student(Path(student_dir), task, settings)
        predicted, student_conf = student_predict(student, row_texts)
        student_labels = dict(zip(ids, predicted))
        for i, id_ in enumerate(ids):
            if predicted[i] != current[i]:
                disagreements[i] += 1
                reasons[i].append(f"student disagrees (student: {cell(task, predicted[i])}, p = {student_conf[i]:.2f})")
    for i, id_ in enumerate(ids):
        if id_ in gold_labels and id_ in llm_labels and gold_labels[id_] != llm_labels[id_]:
            disagreements[i] += 1
            reasons[i].append(f"gold and LLM disagree (LLM: {cell(task, llm_labels[id_])})")
    score = (1 - quality) + flagged.astype(float) + 0.5 * disagreements
    queued = [i for i in range(n) if flagged[i] or disagreements[i]]
    queued.sort(key=lambda i: (-score[i], ids[i]))
    if limit:
        if len(queued) > limit:
            notes.append(f"{len(queued)} report(s) flagged; the top {limit} written (--limit)")
        queued = queued[:limit]
    tmp = out.with_name(out.name + ".partial")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(QUEUE_COLUMNS)
        for rank, i in enumerate(queued, start=1):
            id_ = ids[i]
            writer.writerow([rank, id_, cell(task, current[i]), cell(task, suggested[i]), f"{confidence[i]:.4f}",
                             "; ".join(reasons[i]), f"{score[i]:.4f}", f"{quality[i]:.4f}",
                             "gold" if id_ in gold_labels else "llm", cell(task, gold_labels.get(id_)),
                             cell(task, llm_labels.get(id_)), cell(task, student_labels.get(id_)), "", row_texts[i]])
    tmp.replace(out)
    flagged_by = {"cleanlab": int(flagged.sum()),
                  "gold/LLM disagreement": sum(1 for i in ids if i in gold_labels and i in llm_labels and gold_labels[i] != llm_labels[i]),
                  "student disagreement": sum(1 for i, id_ in enumerate(ids) if id_ in student_labels and student_labels[id_] != current[i])}
    return QueueResult(out, n, len(queued), flagged_by, notes)
